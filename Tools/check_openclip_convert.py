#!/usr/bin/env python3
"""Checks `clip convert --from open_clip` against transformers: each converted fixture folder must load with
CLIPModel.from_pretrained and give open_clip's embeddings (Tests/Fixtures/openclip/*_expected.safetensors).

    swift build -c release
    for m in quickgelu gelu elipc; do .build/release/clip convert --from open_clip Tests/Fixtures/openclip/$m --to /tmp/occ/$m; done
    /tmp/fx/bin/python Tools/check_openclip_convert.py /tmp/occ     # the fixtures venv (no torchvision needed)

Prints the largest absolute difference per fixture and exits 1 when one exceeds 1e-4.
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import CLIPModel

FIX = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "openclip"

def main(out: Path):
    worst = 0.0
    for name in ("quickgelu", "gelu"):
        model = CLIPModel.from_pretrained(out / name).eval()
        e = load_file(str(FIX / f"{name}_expected.safetensors"))
        with torch.no_grad():
            img = model.get_image_features(pixel_values=e["pixel_values"]).pooler_output
            txt = model.get_text_features(input_ids=e["input_ids"]).pooler_output
        d = max((img - e["image_embeds"]).abs().max().item(), (txt - e["text_embeds"]).abs().max().item())
        print(f"{name}: transformers vs open_clip, max |diff| {d:.2e} (image {tuple(img.shape)}, text {tuple(txt.shape)})")
        worst = max(worst, d)
    # ELIP-C: the converted backbone and elip_mapper.safetensors give open_clip's guided scores.
    model = CLIPModel.from_pretrained(out / "elipc").eval()
    e = load_file(str(FIX / "elipc_expected.safetensors"))
    w = load_file(str(out / "elipc" / "elip_mapper.safetensors"))
    def mapper(t):
        h = torch.nn.functional.gelu(t @ w["mapper.0.weight"].T + w["mapper.0.bias"])
        h = torch.nn.functional.gelu(h @ w["mapper.2.weight"].T + w["mapper.2.bias"])
        return h @ w["mapper.4.weight"].T + w["mapper.4.bias"]
    vm = model.vision_model
    with torch.no_grad():
        t = model.get_text_features(input_ids=e["input_ids"]).pooler_output
        t = t / t.norm(dim=-1, keepdim=True)
        scores = []
        for q in range(t.shape[0]):
            n = e["pixel_values"].shape[0]
            prompts = mapper(t[q:q + 1]).reshape(1, -1, vm.config.hidden_size).expand(n, -1, -1)
            h = vm.pre_layrnorm(vm.embeddings(e["pixel_values"]))
            h = torch.cat([h[:, :1], prompts, h[:, 1:]], dim=1)
            h = vm.encoder(inputs_embeds=h).last_hidden_state
            g = model.visual_projection(vm.post_layernorm(h[:, 0]))
            scores.append((g / g.norm(dim=-1, keepdim=True)) @ t[q])
    d = (torch.stack(scores) - e["guided_scores"]).abs().max().item()
    print(f"elipc: guided scores, transformers + converted mapper vs ELIP-C's forward, max |diff| {d:.2e}")
    worst = max(worst, d)
    sys.exit(0 if worst <= 1e-4 else 1)

if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/occ"))
