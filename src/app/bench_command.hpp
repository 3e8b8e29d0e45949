#pragma once
// `concertd bench <scenario> [options]`: the load generator's command line.

namespace concertd {

/// argv[0] is "bench". Returns the exit code: 0 ok, 1 an invariant failed or the run could not
/// be done, 2 bad flags.
int run_bench(int argc, char** argv);

}  // namespace concertd
