#include "controller/agent/metrics.h"

#include <gtest/gtest.h>

namespace routelet::agent {
namespace {

TEST(MetricsTest, RendersCountersAndGaugesInExpositionFormat) {
  Metrics m;
  m.declare("routelet_route_operations_total", Metrics::Type::kCounter, "Route operations.");
  m.declare("routelet_peers", Metrics::Type::kGauge, "Peer nodes.");
  m.add("routelet_route_operations_total", {{"op", "replace"}, {"result", "ok"}}, 3);
  m.set("routelet_peers", {}, 2);
  EXPECT_EQ(m.render(),
            "# HELP routelet_route_operations_total Route operations.\n"
            "# TYPE routelet_route_operations_total counter\n"
            "routelet_route_operations_total{op=\"replace\",result=\"ok\"} 3\n"
            "# HELP routelet_peers Peer nodes.\n"
            "# TYPE routelet_peers gauge\n"
            "routelet_peers 2\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Metrics m;
  m.declare("routelet_reconcile_duration_seconds", Metrics::Type::kHistogram, "Reconcile time.",
            {0.001, 0.01, 0.1});
  for (double v : {0.0005, 0.005, 0.005, 5.0})
    m.observe("routelet_reconcile_duration_seconds", {}, v);
  std::string text = m.render();
  EXPECT_NE(text.find("routelet_reconcile_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("routelet_reconcile_duration_seconds_bucket{le=\"0.01\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("routelet_reconcile_duration_seconds_bucket{le=\"0.1\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("routelet_reconcile_duration_seconds_bucket{le=\"+Inf\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("routelet_reconcile_duration_seconds_count 4\n"), std::string::npos);
  EXPECT_EQ(m.value("routelet_reconcile_duration_seconds"), 4);
}

TEST(MetricsTest, EscapesHostileLabelValues) {
  Metrics m;
  m.declare("routelet_unreachable_peers", Metrics::Type::kGauge, "x");
  m.set("routelet_unreachable_peers", {{"node", "a\"b\\c\nd"}}, 1);
  EXPECT_NE(m.render().find("{node=\"a\\\"b\\\\c\\nd\"} 1"), std::string::npos);
}

TEST(MetricsTest, ClearDropsStaleSeries) {
  Metrics m;
  m.declare("routelet_routes", Metrics::Type::kGauge, "x");
  m.set("routelet_routes", {{"state", "programmed"}}, 4);
  m.clear("routelet_routes");
  EXPECT_EQ(m.render().find("programmed"), std::string::npos);
}

}  // namespace
}  // namespace routelet::agent
