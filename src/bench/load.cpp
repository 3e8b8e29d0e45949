#include "bench/load.hpp"

#include <exception>
#include <string>
#include <thread>

#include <boost/asio.hpp>

namespace concertd::bench {

Task<void> load_worker(Shard& shard, Workload& workload, std::size_t worker, LoadPlan plan) {
  Clock::time_point next = plan.first_send;
  const auto interval =
      plan.interval_s ? duration_cast<Clock::duration>(duration<double>(*plan.interval_s)) : Clock::duration::zero();
  /// Bounded by the clock: no request is started after load_end.
  for (;;) {
    if (shard.shared.stop.load(std::memory_order_relaxed)) {
      break;
    }
    Clock::time_point started = Clock::now();
    if (started >= plan.load_end) {
      break;
    }
    if (plan.interval_s) {
      if (next >= plan.load_end) {
        break;
      }
      if (started < next) {
        co_await shard.sleep_until(next);
      }
      /// Latency counts from the intended send time, so a slow answer that delays the next
      /// send is charged to that send as well (no coordinated omission).
      started = next;
      next += interval;
    }
    co_await workload.issue(shard, worker, started);
  }
}

LoadRun make_shards(Shared& shared, Clock::time_point start, Clock::time_point end) {
  LoadRun run;
  const auto threads = static_cast<std::size_t>(std::max<std::int64_t>(1, shared.cfg.threads));
  for (std::size_t i = 0; i < threads; ++i) {
    run.shards.push_back(std::make_unique<Shard>(shared, start, end));
    run.workers_of.emplace_back();
  }
  for (std::size_t w = 0; w < static_cast<std::size_t>(shared.cfg.concurrency); ++w) {
    run.workers_of[w % threads].push_back(w);
  }
  return run;
}

void drive(Shared& shared, LoadRun& run, Workload& workload, Clock::time_point load_start, Clock::time_point load_end) {
  const auto& cfg = shared.cfg;
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    Shard& shard = *run.shards[s];
    for (std::size_t w : run.workers_of[s]) {
      LoadPlan plan{load_start, load_end, std::nullopt, load_start};
      if (cfg.rate) {
        plan.interval_s = static_cast<double>(cfg.concurrency) / *cfg.rate;
        plan.first_send =
            load_start + duration_cast<Clock::duration>(duration<double>(static_cast<double>(w) / *cfg.rate));
      }
      asio::co_spawn(shard.io, load_worker(shard, workload, w, plan), [&shared](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            shared.fail(std::string("a worker stopped: ") + ex.what());
          }
        }
      });
    }
  }
  std::vector<std::thread> threads;
  for (std::size_t s = 1; s < run.shards.size(); ++s) {
    threads.emplace_back([&run, s] {
      run.shards[s]->io.restart();
      run.shards[s]->io.run();
    });
  }
  run.shards[0]->io.restart();
  run.shards[0]->io.run();
  for (auto& t : threads) {
    t.join();
  }
}

Window window_from_now(const BenchConfig& cfg) {
  Window w;
  w.load_start = Clock::now();
  w.measure_start = w.load_start + duration_cast<Clock::duration>(duration<double>(cfg.warmup_s));
  w.measure_end = w.measure_start + duration_cast<Clock::duration>(duration<double>(cfg.duration_s));
  return w;
}

void merge_shards(LoadRun& run, Outcome& out) {
  out.merged.set_window(run.shards[0]->rec.measure_start(), run.shards[0]->rec.measure_end());
  for (auto& s : run.shards) {
    out.merged.merge(s->rec);
  }
}

}  // namespace concertd::bench
