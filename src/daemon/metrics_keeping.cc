// metrics_keeping.cc — the [metrics] textfile: once a second the main thread checks whether
// its interval has passed, and writes status' counters in Prometheus' text format, atomically,
// for node_exporter's textfile collector. A failure is said once, then again after a success.
#include "daemon/daemon.h"
#include "metrics/prometheus_text.h"

namespace portwall {

void Daemon::keep_metrics_file() {
  const std::shared_ptr<const LiveSettings> live = settings();
  const MetricsSection& m = live->metrics;
  const Timestamp now = clock_.now();
  if (m.textfile.empty() ||
      (metrics_written_ != Timestamp{} && now - metrics_written_ < m.interval)) {
    return;
  }
  metrics_written_ = now;
  // status() reads published figures and the policy in force: no change waits for it.
  const std::string text = render_prometheus(control_->status());
  if (auto ok = write_file_atomically(m.textfile, text); !ok) {
    if (!metrics_failing_) say("metrics: " + ok.error());
    metrics_failing_ = true;
  } else {
    if (metrics_failing_) say("metrics: " + m.textfile + " written again");
    metrics_failing_ = false;
  }
}

}  // namespace portwall
