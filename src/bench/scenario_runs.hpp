#pragma once
// The scenarios run_scenario (scenarios.cpp) dispatches to: each runs its load and leaves what
// the report needs in `out`, or records why it could not go on in `shared`. Internal to src/bench.
#include "bench/run_context.hpp"

namespace concertd::bench {

// load_scenarios.cpp
void scenario_status(Shared& shared, Outcome& out);
void scenario_seats(Shared& shared, Outcome& out);
void scenario_token(Shared& shared, Outcome& out);
void scenario_holds(Shared& shared, Outcome& out);
void scenario_payments(Shared& shared, Outcome& out);
// rush.cpp
void scenario_rush(Shared& shared, Outcome& out);
// waiting.cpp
void scenario_waiting(Shared& shared, Outcome& out);
// opening.cpp
void scenario_opening(Shared& shared, Outcome& out);

}  // namespace concertd::bench
