# Sourced by the MPI scripts (test-mpi.sh, test-mpi-training.sh, test-mpi-shard.sh, bench-mpi-scaling.sh):
# `mpi_env NAME` checks that mpirun is installed, then sets Open MPI's container-safe transport.
# Without mpirun: with CLIPCORE_MPI_OPTIONAL=1 the calling script says so and exits 0, otherwise it fails.

mpi_env() {
    local name=$1
    if ! command -v mpirun >/dev/null 2>&1; then
        if [ "${CLIPCORE_MPI_OPTIONAL:-0}" = "1" ]; then
            echo "$name: SKIPPED: mpirun not found (install openmpi-bin libopenmpi-dev: scripts/install-deps.sh --test)"
            exit 0
        fi
        echo "$name: mpirun not found: install Open MPI (scripts/install-deps.sh --test), or set CLIPCORE_MPI_OPTIONAL=1 to skip" >&2
        exit 1
    fi
    # Containers often forbid the cross-process memory attach (CMA) Open MPI's shared-memory transport
    # uses for large messages ("Read -1, expected ..."): copy through shared memory instead (4.x names the
    # transport vader, 5.x sm). A value already set in the environment wins.
    export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
    export OMPI_MCA_btl_sm_single_copy_mechanism=${OMPI_MCA_btl_sm_single_copy_mechanism:-none}
}
