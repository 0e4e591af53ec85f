// swift-tools-version:6.1
// clipcore: image–text retrieval models (CLIP, SigLIP, ELIP) in Swift, with a C ABI.
// Layers, bottom to top (a target depends only on the ones above it in this list;
// docs/ARCHITECTURE.md says where each concept lives):
//   CBLAS, CPNG, CJPEG, CFaiss   system libraries and the C++ shim over FAISS
//   CCodecs               PNG, JPEG and gzip decoding, the embedded data (CLIP vocabulary, HTML entities)
//   CKernels              vectorised C math/row kernels (AVX2+FMA or baseline, chosen at run time)
//   CClipABI              include/clipcore.h as a C module (CAPI's types and constants come from it)
//   CMPI                  Open MPI's libmpi loaded at run time (dlopen): nothing links MPI, no mpi.h needed
//   Tensor                storage, views, kernels (GEMM through OpenBLAS), threads; the base every layer
//                         shares: ClipError, AtomicFile, JSONText, config value checks, resource limits
//                         (CLIPCORE_MAX_*, docs/RELIABILITY.md), the version
//   Autograd              reverse-mode differentiation over Tensor ops
//   ClipDistributed       the Communicator protocol: MPI collectives over CMPI under mpirun, a no-op
//                         single process otherwise; open_clip's gather-with-grad (never in libclipcore.so)
//   NN                    modules, layers, optimizers, schedules, safetensors, state dicts
//   Images                RGB images, PNG/JPEG decoding, PIL-exact resampling, preprocessing (Tensor only)
//   Models                model families (CLIP, SigLIP, open_clip) and their registry, two-tower and
//                         prompt-guided models, ELIP's mapper and objective, losses, tokenizers, model folders
//   Adapters              LoRA, bottleneck, prefix tuning and (IA)3 on a model's transformer layers (frozen base
//                         weights untouched), adapter files, merging
//   Datasets              image–caption sources of every layout (JSONL, CSV, tar shards, COCO/Karpathy JSON,
//                         class folders) and the procedural dataset generator (no Models)
//   Search                exact and FAISS search, retrieval metrics, hard-negative mining (no Models, no Datasets)
//   Pipelines             dataset encoding, NPY embedding shards and stores, ELIP re-ranking over datasets
//   Heads                 projection heads on pre-encoded embeddings (seed 002) and their losses
//   Losses                the loss zoo (seed 003): distillation and self-supervised losses on two towers' embeddings
//   Plots                 training-curve PNGs, PCA and t-SNE maps of embeddings (LAPACK), scatter plots
//   Evaluation            zero-shot classification, linear probe, k-NN, clustering and retrieval of a model on a
//                         dataset; classification datasets, feature caches, CLIP_benchmark result files
//   Studies               hyperparameter studies: search spaces, TPE, pruning, Optuna-schema SQLite (GRDB)
//   Training              run configurations (YAML), the contrastive, ELIP and projection-head trainers
//   ClipCore              umbrella module for Swift users (re-exports the layers)
//   CAPI                  the C ABI, built as libclipcore.so (product "clipcore")
//   Serve                 `clip serve`: the k-NN search service (clip-retrieval's API), its search page, micro-batching,
//                         limits and metrics, on Hummingbird 2 (never linked into libclipcore.so)
//   clip                  the command-line tool
import PackageDescription
import Foundation

let package = Package(
    name: "clipcore",
    products: [
        .library(name: "ClipTensor", targets: ["Tensor", "Autograd"]),
        // Every Swift layer behind one import: `import ClipCore`.
        .library(name: "ClipCore", targets: ["ClipCore"]),
        // libclipcore.so. Build it with the Swift runtime linked in:
        //   swift build -c release --product clipcore --static-swift-stdlib
        .library(name: "clipcore", type: .dynamic, targets: ["CAPI"]),
        .executable(name: "clip", targets: ["clip"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // Studies' storage: SQLite in Optuna's schema (never linked into libclipcore.so).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // `swift package generate-documentation --target ClipCore` (Sources/ClipCore/ClipCore.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Serve's HTTP server and its /metrics (only Serve and the clip tool link them).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // MARK: - System libraries
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),
        .target(
            name: "CFaiss",
            linkerSettings: [
                .linkedLibrary("faiss"), .linkedLibrary("gomp"),
                .linkedLibrary("lapack"), .linkedLibrary("openblas"),
                .linkedLibrary("stdc++"),
            ]),

        // PNG and JPEG decoding (libpng and libjpeg errors longjmp, so they are caught in C), gzip,
        // the embedded data files (resources.S: the CLIP vocabulary, the HTML entity tables).
        .target(
            name: "CCodecs", dependencies: ["CPNG", "CJPEG"],
            exclude: ["resources/LICENSE-open_clip", "resources/bpe_simple_vocab_16e6.txt.gz",
                      "resources/html5_entities.txt.gz"],
            cSettings: [.headerSearchPath("resources")],
            linkerSettings: [.linkedLibrary("z")]),

        // Vectorised math and row kernels, compiled for AVX2+FMA and baseline x86-64.
        .target(name: "CKernels"),

        // The C interface's header, include/clipcore.h (linked into include/ here), as a module: CAPI
        // takes its struct layouts and constants from it and checks its functions against it.
        .target(name: "CClipABI"),

        // MPI at run time: dlopen of libmpi.so.40 and dlsym of the calls and Open MPI's predefined handles,
        // so libclipcore.so and the plain `clip` binary run without MPI installed (docs/DISTRIBUTED.md).
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),

        // MARK: - Layers
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "Autograd", dependencies: ["Tensor"]),
        .target(name: "ClipDistributed", dependencies: ["Tensor", "Autograd", "CMPI"]),
        .target(name: "NN", dependencies: ["Tensor", "Autograd"]),
        .target(name: "Images", dependencies: ["Tensor", "CCodecs"]),
        .target(name: "Models", dependencies: ["Tensor", "Autograd", "NN", "Images", "CCodecs"]),
        .target(name: "Adapters", dependencies: ["Tensor", "Autograd", "NN", "Models"]),
        .target(name: "Datasets", dependencies: ["Tensor", "Images"]),
        .target(name: "Search", dependencies: ["Tensor", "CFaiss", "CKernels"]),
        .target(name: "Pipelines", dependencies: ["Tensor", "Autograd", "NN", "Images", "Models", "Datasets", "Search"]),
        .target(name: "Evaluation", dependencies: ["Tensor", "Autograd", "NN", "Images", "Models", "Datasets", "Search",
                                                   "Pipelines", "CBLAS", "CKernels"]),
        .target(name: "Heads", dependencies: ["Tensor", "Autograd", "NN"]),
        .target(name: "Losses", dependencies: ["Tensor", "Autograd", "NN"]),
        .target(name: "Plots", dependencies: ["Tensor", "Images", "CBLAS"]),
        .target(name: "Studies", dependencies: ["Tensor", .product(name: "Yams", package: "Yams"),
                                                .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Training", dependencies: ["Tensor", "Autograd", "NN", "Images", "Models", "Adapters", "Datasets", "Search",
                                                 "Pipelines", "Heads", "Losses", "Plots", "Studies", "ClipDistributed",
                                                 .product(name: "Yams", package: "Yams")]),
        .target(name: "ClipCore", dependencies: ["Tensor", "Autograd", "NN", "Images", "Models", "Adapters", "Datasets", "Search",
                                                 "Pipelines", "Evaluation", "Heads", "Losses", "Plots", "Studies", "Training",
                                                 "ClipDistributed"]),
        // `clip serve`: clip-retrieval's k-NN API and a search page over embedding shard folders.
        .target(name: "Serve", dependencies: ["Tensor", "NN", "Images", "Models", "Search", "Pipelines",
                                              .product(name: "Hummingbird", package: "hummingbird"),
                                              .product(name: "Prometheus", package: "swift-prometheus")]),
        // libclipcore.so exports only clip_* (Sources/CAPI/clipcore.map) and is named libclipcore.so.0
        // (the SONAME; scripts/build-lib.sh puts a libclipcore.so.0 link beside it). Linked with the
        // toolchain's lld: gold keeps ~30 localised Swift symbols in the dynamic table (as LOCAL entries).
        .target(
            name: "CAPI", dependencies: ["CClipABI", "Tensor", "Autograd", "NN", "Images", "Models", "Search", "Datasets", "Pipelines",
                                          "Evaluation"],
            exclude: ["clipcore.map"],
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld",
                              "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/CAPI/clipcore.map",
                              "-Xlinker", "-soname=libclipcore.so.0"]),
            ]),

        // MARK: - Executables
        .executableTarget(
            name: "clip",
            dependencies: ["Tensor", "Autograd", "NN", "Images", "Models", "Adapters", "Datasets", "Search", "Pipelines", "Evaluation", "Heads",
                           "Plots", "Studies", "Training", "ClipDistributed", "Serve",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "KernelBench", dependencies: ["Tensor", "CBLAS"],
            path: "Benchmarks/KernelBench"),
        .executableTarget(
            name: "RetrievalBench", dependencies: ["Tensor", "Search"],
            path: "Benchmarks/RetrievalBench"),
        .executableTarget(
            name: "ModelBench", dependencies: ["Tensor", "Autograd", "NN", "Models"],
            path: "Benchmarks/ModelBench", exclude: ["tokenizer_ref.py"]),
        .executableTarget(
            name: "ServeBench", dependencies: ["Tensor", "Pipelines"],
            path: "Benchmarks/ServeBench"),
        .executableTarget(
            name: "DistBench", dependencies: ["Tensor", "Search", "ClipDistributed"],
            path: "Benchmarks/DistBench"),
        .executableTarget(
            name: "SpeedBench", dependencies: ["Tensor", "Autograd", "NN", "Images", "Models", "Datasets", "Search", "Pipelines", "Heads",
                                                  "Evaluation", "CClipABI", "CAPI"],
            path: "Benchmarks/SpeedBench"),

        // MARK: - Tests
        // Every collective checked with known values on every rank, under `mpirun -np 2` and `-np 3`
        // (scripts/test-mpi.sh); exits non-zero on a mismatch.
        .executableTarget(
            name: "DistributedCheck", dependencies: ["Tensor", "Autograd", "ClipDistributed"],
            path: "Tests/DistributedCheck"),
        // Fixture paths and comparisons shared by the parity tests (no product links it).
        .target(name: "TestSupport", dependencies: ["Tensor", "NN", "Models"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CKernels"]),
        .testTarget(name: "AutogradTests", dependencies: ["Tensor", "Autograd"]),
        .testTarget(name: "ClipDistributedTests", dependencies: ["Tensor", "Autograd", "ClipDistributed"]),
        .testTarget(name: "NNTests", dependencies: ["Tensor", "Autograd", "NN"]),
        .testTarget(name: "ImagesTests", dependencies: ["Tensor", "NN", "Images", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Tensor", "Autograd", "NN", "Images", "Models", "TestSupport"]),
        .testTarget(name: "AdaptersTests", dependencies: ["Tensor", "Autograd", "NN", "Images", "Models", "Adapters", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Tensor", "Images", "Datasets", "TestSupport"]),
        .testTarget(name: "SearchTests", dependencies: ["Tensor", "NN", "Search"]),
        .testTarget(name: "PipelinesTests", dependencies: ["Tensor", "NN", "Images", "Models", "Datasets", "Search", "Pipelines",
                                                           "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Tensor", "NN", "Images", "Models", "Datasets", "Search", "Pipelines",
                                                            "Evaluation", "TestSupport"]),
        .testTarget(name: "HeadsTests", dependencies: ["Tensor", "Autograd", "NN", "Heads", "TestSupport"]),
        .testTarget(name: "LossesTests", dependencies: ["Tensor", "Autograd", "NN", "Losses", "TestSupport"]),
        .testTarget(name: "PlotsTests", dependencies: ["Tensor", "Images", "Plots", "TestSupport"]),
        .testTarget(name: "StudiesTests", dependencies: ["Tensor", "Studies", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Images", "Models", "NN", "Tensor", "Autograd", "Datasets",
                                                          "Search", "Pipelines", "Heads", "Losses", "Adapters", "Studies", "ClipCore", "TestSupport"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "Tensor", "Models", "Pipelines", "TestSupport"]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CFaiss", "CPNG", "Tensor"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)

// libFuzzer targets (Fuzz/, scripts/fuzz.sh): only when CLIPCORE_FUZZ=1 at manifest evaluation, built with
// -sanitize=fuzzer,address in their own scratch folder (.build-fuzz), so normal builds and CI never see them.
if ProcessInfo.processInfo.environment["CLIPCORE_FUZZ"] == "1" {
    package.targets.append(.executableTarget(
        name: "ClipFuzz", dependencies: ["Tensor", "NN", "Images", "Models", "Datasets", "Search", "Studies", "Training"],
        path: "Fuzz", swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    package.products.append(.executable(name: "clip-fuzz", targets: ["ClipFuzz"]))
}
