// The clip command-line tool.

import ArgumentParser
import Foundation
import Images
import Tensor
import ClipDistributed

extension ImagePreprocessing: ExpressibleByArgument {
    /// The help of every command's `--preprocessing` (each command that loads a model folder has one).
    static let help: ArgumentHelp = "Image preprocessing: pil (PIL's resize, transformers' CLIPImageProcessorPil; the default) or torchvision (transformers 5's default CLIPImageProcessor / SiglipImageProcessor: resizing on tensors, about one 8-bit level from PIL)."
}

@main
struct Clip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "clipcore: CLIP-family image–text models in Swift.",
        discussion: """
            Environment: CLIPCORE_NUM_THREADS (threads; default all cores), \
            CLIPCORE_LINEAR_PRECISION=int16|int8|bf16 (linear layers of encoding, re-ranking and \
            frozen backbones on a reduced-precision kernel: faster, embeddings within cosine 0.9999 \
            of float32 for int16 and bf16, 0.999 for int8, the fastest; default float32, \
            transformers' numbers; `clip selfcheck` names the kernels this CPU runs), \
            CLIPCORE_ISA=avx2|avx512|avx512_vnni|baseline (lower the instruction set the kernels use).
            """,
        version: ClipCoreVersion.string,
        subcommands: [SelfCheck.self, Encode.self, EncodeDataset.self, Info.self, Convert.self, IndexCommand.self, Mine.self, Eval.self, EvalRetrieval.self, ELIPCommand.self, DataCommand.self, Train.self, HeadsCommand.self, AdaptersCommand.self, Demo.self, ServeCommand.self],
        defaultSubcommand: SelfCheck.self)

    /// Line-buffered output, so progress reaches logs and pipes as it happens; SIGXFSZ ignored. Usage, help and
    /// validation go through ArgumentParser; any other error prints one line on standard error
    /// (a `ClipError` its message) and exits with status 1.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        // A file-size limit (`ulimit -f`) then fails the write that crosses it with EFBIG, which the
        // writers report naming the file, instead of killing the process mid-checkpoint.
        signal(SIGXFSZ, SIG_IGN)
        var command: ParsableCommand
        do { command = try parseAsRoot(nil) } catch { exit(withError: error) }
        // Under `mpirun -np N` (N > 1) only the data-parallel commands run; any other would run N
        // times over the same outputs.
        if let n = Distributed.launchedSize, n > 1, !dataParallelCommands.contains(where: { $0 == type(of: command) }) {
            fail("the command '\(type(of: command)._commandName)' does not run data parallel: under mpirun -np \(n) every rank would run "
                 + "the whole job over the same outputs; run it without mpirun (data-parallel commands: train, elip train, "
                 + "encode-dataset, mine; docs/DISTRIBUTED.md)")
        }
        do {
            try command.run()
        } catch let e as ClipError {
            fail(e.message)
        } catch let e as ExitCode {
            if e != .success { Distributed.abortJobIfDistributed(code: e.rawValue) }
            exit(withError: e)
        } catch where exitCode(for: error) != .failure {
            // help, version, validation: ArgumentParser's own output and status (a failing rank ends the job)
            if exitCode(for: error) != .success { Distributed.abortJobIfDistributed(code: exitCode(for: error).rawValue) }
            exit(withError: error)
        } catch let e as LocalizedError where e.errorDescription != nil {
            fail(e.errorDescription ?? "")
        } catch {
            fail("unexpected error (\(type(of: error))): \(error)")
        }
    }

    /// The commands that split their work over mpirun's ranks.
    private static let dataParallelCommands: [any ParsableCommand.Type] = [Train.self, ELIPCommand.Train.self, EncodeDataset.self, Mine.self]

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        // One rank of several failing alone would leave the others waiting in a collective.
        Distributed.abortJobIfDistributed(code: ExitCode.failure.rawValue)
        Foundation.exit(ExitCode.failure.rawValue)
    }
}
