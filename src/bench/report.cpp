#include "bench/report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include <boost/json/serialize.hpp>

namespace concertd::bench {

namespace json = boost::json;

namespace {

double ms(double micros) { return micros / 1000.0; }

std::string fixed(double v, int decimals) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.*f", decimals, v);
  return buf.data();
}

std::string escape_html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

constexpr std::array<const char*, 8> kColors = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/// A line chart of one value per second per step.
std::string line_chart(const Recorder& rec, const std::string& title, const std::string& unit, bool p99) {
  constexpr double width = 760;
  constexpr double height = 260;
  constexpr double left = 60;
  constexpr double bottom = 30;
  constexpr double top = 24;
  std::size_t seconds = 1;
  double max_value = 0;
  for (const auto& s : rec.steps()) {
    seconds = std::max(seconds, s->series().size());
    for (const auto& slot : s->series()) {
      const double v = p99 ? ms(slot.latency.percentile(99)) : static_cast<double>(slot.ok);
      max_value = std::max(max_value, v);
    }
  }
  if (max_value <= 0) {
    max_value = 1;
  }
  const double plot_w = width - left - 10;
  const double plot_h = height - top - bottom;
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + fixed(width, 0) + "' height='" +
                    fixed(height, 0) + "' font-family='sans-serif' font-size='11'>";
  svg += "<text x='" + fixed(left, 0) + "' y='14' font-weight='bold'>" + escape_html(title) + "</text>";
  svg += "<line x1='" + fixed(left, 0) + "' y1='" + fixed(top + plot_h, 1) + "' x2='" + fixed(left + plot_w, 1) +
         "' y2='" + fixed(top + plot_h, 1) + "' stroke='#888'/>";
  svg += "<line x1='" + fixed(left, 0) + "' y1='" + fixed(top, 1) + "' x2='" + fixed(left, 0) + "' y2='" +
         fixed(top + plot_h, 1) + "' stroke='#888'/>";
  for (int i = 0; i <= 4; ++i) {
    const double v = max_value * i / 4;
    const double y = top + plot_h - plot_h * i / 4;
    svg += "<text x='" + fixed(left - 4, 0) + "' y='" + fixed(y + 4, 1) + "' text-anchor='end'>" +
           fixed(v, v < 10 ? 2 : 0) + "</text>";
  }
  svg += "<text x='" + fixed(left + plot_w, 1) + "' y='" + fixed(height - 6, 0) + "' text-anchor='end'>" +
         std::to_string(seconds) + " s</text><text x='4' y='" + fixed(top - 6, 0) + "'>" + escape_html(unit) +
         "</text>";
  std::size_t color = 0;
  for (const auto& s : rec.steps()) {
    std::string points;
    for (std::size_t i = 0; i < s->series().size(); ++i) {
      const auto& slot = s->series()[i];
      const double v = p99 ? ms(slot.latency.percentile(99)) : static_cast<double>(slot.ok);
      const double x = left + plot_w * (static_cast<double>(i) + 0.5) / static_cast<double>(seconds);
      const double y = top + plot_h - plot_h * v / max_value;
      points += fixed(x, 1) + "," + fixed(y, 1) + " ";
    }
    const char* c = kColors[color % kColors.size()];
    svg += "<polyline fill='none' stroke-width='2' stroke='" + std::string(c) + "' points='" + points + "'/>";
    svg += "<text x='" + fixed(left + 10 + 90 * static_cast<double>(color), 1) + "' y='" + fixed(height - 6, 0) +
           "' fill='" + c + "'>" + escape_html(s->name()) + "</text>";
    ++color;
  }
  svg += "</svg>";
  return svg;
}

/// Grouped bars: p50, p90, p99, p99.9 of every step, on a log scale (latencies span decades).
std::string percentile_chart(const Recorder& rec) {
  constexpr std::array<double, 4> ps = {50, 90, 99, 99.9};
  constexpr std::array<const char*, 4> names = {"p50", "p90", "p99", "p99.9"};
  constexpr double height = 260;
  constexpr double left = 60;
  constexpr double top = 24;
  constexpr double bottom = 40;
  const double group_w = 110;
  const double width = left + 20 + group_w * static_cast<double>(std::max<std::size_t>(1, rec.steps().size()));
  double max_ms = 0.01;
  for (const auto& s : rec.steps()) {
    max_ms = std::max(max_ms, ms(s->latency().percentile(99.9)));
  }
  const double low = 0.01;  // 10 µs at the axis
  const double decades = std::max(1.0, std::ceil(std::log10(max_ms / low)));
  const double plot_h = height - top - bottom;
  auto y_of = [&](double v) {
    const double d = std::log10(std::max(v, low) / low) / decades;
    return top + plot_h - plot_h * std::clamp(d, 0.0, 1.0);
  };
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + fixed(width, 0) + "' height='" +
                    fixed(height, 0) + "' font-family='sans-serif' font-size='11'>";
  svg +=
      "<text x='" + fixed(left, 0) + "' y='14' font-weight='bold'>latency percentiles per step (ms, log scale)</text>";
  for (int d = 0; d <= static_cast<int>(decades); ++d) {
    const double v = low * std::pow(10.0, d);
    const double y = y_of(v);
    svg += "<line x1='" + fixed(left, 0) + "' y1='" + fixed(y, 1) + "' x2='" + fixed(width - 10, 1) + "' y2='" +
           fixed(y, 1) + "' stroke='#ddd'/><text x='" + fixed(left - 4, 0) + "' y='" + fixed(y + 4, 1) +
           "' text-anchor='end'>" + fixed(v, v < 1 ? 2 : 0) + "</text>";
  }
  double x = left + 10;
  for (const auto& s : rec.steps()) {
    for (std::size_t i = 0; i < ps.size(); ++i) {
      const double v = ms(s->latency().percentile(ps[i]));
      const double y = y_of(v);
      svg += "<rect x='" + fixed(x + 22 * static_cast<double>(i), 1) + "' y='" + fixed(y, 1) + "' width='18' height='" +
             fixed(top + plot_h - y, 1) + "' fill='" + kColors[i] + "'><title>" + escape_html(s->name()) + " " +
             names[i] + ": " + fixed(v, 3) + " ms</title></rect>";
    }
    svg += "<text x='" + fixed(x, 1) + "' y='" + fixed(height - 22, 0) + "'>" + escape_html(s->name()) + "</text>";
    x += group_w;
  }
  for (std::size_t i = 0; i < ps.size(); ++i) {
    svg += "<text x='" + fixed(left + 10 + 50 * static_cast<double>(i), 1) + "' y='" + fixed(height - 6, 0) +
           "' fill='" + kColors[i] + "'>" + names[i] + "</text>";
  }
  svg += "</svg>";
  return svg;
}

}  // namespace

std::string format_table(const Recorder& rec) {
  const double seconds = rec.measured_seconds();
  std::string out;
  std::array<char, 256> line{};
  std::snprintf(line.data(), line.size(), "%-9s %9s %7s %9s %8s %7s %7s %9s %8s\n", "step", "ok", "errors", "rate/s",
                "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms");
  out += line.data();
  for (const auto& s : rec.steps()) {
    const Histogram& h = s->latency();
    std::snprintf(line.data(), line.size(), "%-9s %9llu %7llu %9.1f %8.2f %7.2f %7.2f %9.2f %8.2f\n", s->name().c_str(),
                  static_cast<unsigned long long>(s->ok()), static_cast<unsigned long long>(s->errors()),
                  s->rate(seconds), ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)),
                  ms(h.percentile(99.9)), ms(static_cast<double>(h.max())));
    out += line.data();
  }
  return out;
}

json::value to_json(const RunResult& r) {
  json::object root;
  root["scenario"] = r.scenario;
  root["url"] = r.url;
  root["config"] = r.config;
  root["started_at"] = r.started_at;
  const double seconds = r.recorder != nullptr ? r.recorder->measured_seconds() : 0.0;
  root["duration_s"] = seconds;
  json::object steps;
  if (r.recorder != nullptr) {
    for (const auto& s : r.recorder->steps()) {
      json::object step;
      step["ok"] = s->ok();
      step["errors"] = s->errors();
      json::object by_status;
      for (const auto& [status, n] : s->by_status()) {
        by_status[std::to_string(status)] = n;
      }
      step["by_status"] = std::move(by_status);
      json::object by_code;
      for (const auto& [code, n] : s->by_code()) {
        by_code[code] = n;
      }
      step["by_code"] = std::move(by_code);
      step["rate_per_s"] = s->rate(seconds);
      const Histogram& h = s->latency();
      step["latency_ms"] = json::object{{"p50", ms(h.percentile(50))},
                                        {"p90", ms(h.percentile(90))},
                                        {"p99", ms(h.percentile(99))},
                                        {"p999", ms(h.percentile(99.9))},
                                        {"max", ms(static_cast<double>(h.max()))},
                                        {"mean", ms(h.mean())}};
      json::array series;
      for (std::size_t i = 0; i < s->series().size(); ++i) {
        const auto& slot = s->series()[i];
        series.push_back(json::object{
            {"t", i}, {"ok", slot.ok}, {"errors", slot.errors}, {"p99_ms", ms(slot.latency.percentile(99))}});
      }
      step["series"] = std::move(series);
      steps[s->name()] = std::move(step);
    }
  }
  root["steps"] = std::move(steps);
  if (r.fans) {
    json::object reasons;
    for (const auto& [reason, n] : r.fans->failed_by_reason) {
      reasons[reason] = n;
    }
    root["fans"] = json::object{{"bought", r.fans->bought},
                                {"sold_out", r.fans->sold_out},
                                {"failed", r.fans->failed},
                                {"failed_by_reason", std::move(reasons)}};
  }
  for (const auto& [key, value] : r.extra) {
    root[key] = value;
  }
  json::array violations;
  for (const auto& v : r.invariants.violations) {
    violations.push_back(json::object{{"invariant", v.invariant}, {"detail", v.detail}});
  }
  root["invariants"] = json::object{{"checked", r.invariants_checked},
                                    {"ok", r.invariants.ok()},
                                    {"checks", r.invariants.checks},
                                    {"violations", std::move(violations)}};
  json::array notes;
  for (const auto& n : r.notes) {
    notes.push_back(json::string(n));
  }
  root["notes"] = std::move(notes);
  return root;
}

std::string to_html(const RunResult& r) {
  std::string html =
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>concertd bench " + escape_html(r.scenario) +
      "</title><style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px "
      "0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:"
      "left}.bad{color:#b00}.good{color:#070}pre{background:#f7f7f7;padding:8px}</style></head><body>";
  html += "<h1>concertd bench: " + escape_html(r.scenario) + "</h1>";
  html += "<p>" + escape_html(r.url) + ", started " + escape_html(r.started_at) + ", measured " +
          fixed(r.recorder != nullptr ? r.recorder->measured_seconds() : 0.0, 2) + " s</p>";
  html += "<pre>" + escape_html(json::serialize(r.config)) + "</pre>";
  if (r.recorder != nullptr) {
    const double seconds = r.recorder->measured_seconds();
    html +=
        "<table><tr><th>step</th><th>ok</th><th>errors</th><th>rate/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 "
        "ms</th><th>p99.9 ms</th><th>max ms</th><th>mean ms</th><th>by status</th><th>by code</th></tr>";
    for (const auto& s : r.recorder->steps()) {
      const Histogram& h = s->latency();
      std::string statuses;
      for (const auto& [status, n] : s->by_status()) {
        statuses += std::to_string(status) + ":" + std::to_string(n) + " ";
      }
      std::string codes;
      for (const auto& [code, n] : s->by_code()) {
        codes += code + ":" + std::to_string(n) + " ";
      }
      html += "<tr><td>" + escape_html(s->name()) + "</td><td>" + std::to_string(s->ok()) + "</td><td>" +
              std::to_string(s->errors()) + "</td><td>" + fixed(s->rate(seconds), 1) + "</td><td>" +
              fixed(ms(h.percentile(50)), 2) + "</td><td>" + fixed(ms(h.percentile(90)), 2) + "</td><td>" +
              fixed(ms(h.percentile(99)), 2) + "</td><td>" + fixed(ms(h.percentile(99.9)), 2) + "</td><td>" +
              fixed(ms(static_cast<double>(h.max())), 2) + "</td><td>" + fixed(ms(h.mean()), 2) + "</td><td>" +
              escape_html(statuses) + "</td><td>" + escape_html(codes) + "</td></tr>";
    }
    html += "</table>";
    html += "<div>" + line_chart(*r.recorder, "successes per second", "ok/s", false) + "</div>";
    html += "<div>" + line_chart(*r.recorder, "p99 latency per second", "ms", true) + "</div>";
    html += "<div>" + percentile_chart(*r.recorder) + "</div>";
  }
  if (r.fans) {
    html += "<h2>fans</h2><p>bought " + std::to_string(r.fans->bought) + ", sold out " +
            std::to_string(r.fans->sold_out) + ", failed " + std::to_string(r.fans->failed);
    for (const auto& [reason, n] : r.fans->failed_by_reason) {
      html += "; " + escape_html(reason) + ": " + std::to_string(n);
    }
    html += "</p>";
  }
  if (!r.extra.empty()) {
    html += "<h2>figures</h2><pre>" + escape_html(json::serialize(r.extra)) + "</pre>";
  }
  html += "<h2>invariants</h2>";
  if (!r.invariants_checked) {
    html += "<p>not checked in this scenario</p>";
  } else if (r.invariants.ok()) {
    html += "<p class='good'>ok (" + std::to_string(r.invariants.checks) + " checks)</p>";
  } else {
    html += "<ul class='bad'>";
    for (const auto& v : r.invariants.violations) {
      html += "<li>" + escape_html(v.invariant) + ": " + escape_html(v.detail) + "</li>";
    }
    html += "</ul>";
  }
  for (const auto& n : r.notes) {
    html += "<p>note: " + escape_html(n) + "</p>";
  }
  html += "</body></html>\n";
  return html;
}

}  // namespace concertd::bench
