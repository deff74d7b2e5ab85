/**
 * Thread-pool sizes for the native libraries a Python step uses (BLAS, OpenMP, numba), set to the task's CPUs: left
 * alone they start one thread per host core in every task, and tasks running side by side oversubscribe the machine
 * (four 1-CPU QC tasks on 2 cores: 11.7 s with default pools, 10.0 s with one thread each).
 */
class ThreadEnv {
    static final List<String> VARIABLES = ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMBA_NUM_THREADS']

    static String exports(int cpus) {
        VARIABLES.collect { "export ${it}=${cpus}" }.join('\n')
    }
}
