// Which communicator a process gets: MPI's when mpirun launched it, the single-process one otherwise.

import Foundation
import Tensor

/// The process's communicator.
///
/// `world()` returns `MPICommunicator` (MPI_COMM_WORLD; MPI initialised on the first call, finalised
/// at exit) when the process was launched by mpirun, which sets `OMPI_COMM_WORLD_SIZE` (Open MPI) or
/// `PMI_SIZE` / `PMIX_RANK` (PMI launchers), and `SingleProcess` otherwise. `CLIPCORE_DISTRIBUTED=off`
/// forces the single process under mpirun. Every call returns the same object.
public enum Distributed {
    /// The environment variables whose presence means a launcher started this process as an MPI rank.
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]

    /// The number of ranks the launcher started (`OMPI_COMM_WORLD_SIZE` or `PMI_SIZE`), read without
    /// starting MPI; nil in a single process or when the launcher does not say.
    public static var launchedSize: Int? {
        guard isLaunchedByMPI else { return nil }
        let env = ProcessInfo.processInfo.environment
        return (env["OMPI_COMM_WORLD_SIZE"] ?? env["PMI_SIZE"]).flatMap { Int($0) }
    }

    /// Whether an MPI launcher started this process (and `CLIPCORE_DISTRIBUTED` is not `off`).
    public static var isLaunchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        if env["CLIPCORE_DISTRIBUTED"]?.lowercased() == "off" { return false }
        return launcherVariables.contains { env[$0] != nil }
    }

    /// The communicator of this process (made once).
    /// - Throws: `ClipError.unsupported` when launched under mpirun but libmpi cannot be loaded,
    ///   `ClipError.internal` when MPI fails to start; the same error on every later call.
    public static func world() throws -> any Communicator {
        try shared.get()
    }

    private static let shared: Result<any Communicator, Error> = Result {
        if isLaunchedByMPI { return try MPICommunicator() as any Communicator }
        return SingleProcess() as any Communicator
    }

    /// Ends the whole job after an error on this rank when it is one of several (MPI_Abort), so the
    /// other ranks do not wait forever in their next collective; does nothing in a single process
    /// or before `world()` made an MPI communicator.
    public static func abortJobIfDistributed(code: Int32) {
        guard let mpi = MPICommunicator.current, mpi.size > 1 else { return }
        mpi.abort(code: code)
    }
}
