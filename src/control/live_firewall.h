// live_firewall.h — what the control plane may do to the running firewall, and nothing more:
// read the policy in force, install a new one, set the mode, reach each queue thread's tables,
// read the kernel's counters, end kernel connection entries. portwalld's Daemon implements it
// over its queue threads and diversion rules; unit tests give ControlService a fake.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "audit/decision_log.h"
#include "clock/clock.h"
#include "config/config.h"
#include "config/policy_files.h"
#include "crowdsec/crowdsec_link.h"
#include "netfilter/queue_stats.h"
#include "policy/counters.h"
#include "policy/engine.h"
#include "policy/policy_snapshot.h"
#include "rules/published_ports.h"

namespace portwall {

// What a reload replaces besides the rules, read by the control and main threads while the
// thread that reloads swaps it whole: never changed in place.
struct LiveSettings {
  ScanDetectionSection scan_detection;
  LimitsSection limits;
  std::vector<KnockSection> knocks;
  MetricsSection metrics;
  std::string rules_file, rules_dir;  // where rule changes go and apply writes
  static LiveSettings of(const PolicyFiles& files) {
    return {files.config.scan_detection, files.config.limits, files.config.knocks,
            files.config.metrics,        files.rules_file,    files.rules_dir};
  }
};

// A loaded configuration and rules, ready to be installed.
using LoadedPolicy = PolicyFiles;

// A task for one queue thread: its engine (connection and source tables) and its time.
using QueueTask = std::function<void(Engine&, Timestamp)>;

// Thread-safety: every method may be called from the control thread and the main thread at
// once, except install() and set_mode(), which the caller serializes (ControlService does).
// The kernel's set of blocks, for status: its entries, the packets it dropped (read once a
// second), and why there is none ("" when in place).
struct KernelBlockFigures {
  std::size_t entries = 0;
  std::uint64_t packets_dropped = 0;
  std::string problem;
};

class LiveFirewall {
 public:
  virtual ~LiveFirewall() = default;

  // The policy, settings and mode in force, each a consistent whole, swapped by install().
  virtual std::shared_ptr<const PolicySnapshot> snapshot() const = 0;
  virtual std::shared_ptr<const LiveSettings> settings() const = 0;
  virtual Mode mode() const = 0;

  // Makes `fresh` the policy in force on every queue thread, in `mode`, its forwards in the
  // kernel, its settings in the defenses. Connections are not judged again here (the caller
  // rechecks). An error (the kernel refused the forwards) leaves the policy in force as it was.
  virtual std::expected<void, std::string> install(LoadedPolicy fresh, Mode mode) = 0;
  virtual void set_mode(Mode mode) = 0;
  // A change of policy begins (true: loading, installing) or has ended (false), for the
  // service manager; every begin is followed by one end.
  virtual void reloading(bool begins) = 0;

  // The queue threads, by index 0..queue_count()-1.
  virtual std::size_t queue_count() const = 0;
  virtual std::uint16_t queue_number(std::size_t queue) const = 0;
  virtual Figures queue_figures(std::size_t queue) const = 0;
  // Runs `task` on the queue's thread between batches and waits; false when the thread did not
  // answer in time (it runs the task later, so the task must own what it writes).
  virtual bool run_on_queue(std::size_t queue, QueueTask task) = 0;

  // The kernel's side: packets its queue rules sent (fail-open counts them too), the state of
  // its queues, the diversion backend's name.
  virtual std::expected<std::uint64_t, std::string> queued_packets() = 0;
  virtual std::expected<std::vector<KernelQueueStats>, std::string> kernel_queue_stats() = 0;
  virtual std::string backend_name() const = 0;
  // Ends the kernel's conntrack entries of connections cut here; how many it ended.
  virtual std::expected<std::size_t, std::string> end_kernel_entries(
      std::span<const FlowKey> cut) = 0;
  // inspect = "new": offloaded connections come back to be judged (after a rule change or a
  // block); with any inspect, connections whose flows are gone are picked up again.
  virtual void bring_back_offloaded(const char* why) = 0;
  virtual void reopen_pickup() = 0;
  // What keeps the forwards from working, or empty.
  virtual std::string forwarding_problem() const = 0;
  virtual DecisionLogStats decision_log_stats() const = 0;
  // The CrowdSec Local API's link ([crowdsec]): its pulls and pushes; nullopt when off.
  virtual std::optional<CrowdSecFigures> crowdsec_figures() const { return std::nullopt; }
  // The block list's copy in the kernel (detect/block_mirror.h) follows the list now, after a
  // request changed it, rather than within the second. `spared`: a range blocked with
  // --keep-established, whose kept connections a kernel drop would cut: left to portwalld for
  // as long as that block lasts.
  virtual void follow_blocks(const std::optional<Cidr>& spared = std::nullopt) { (void)spared; }
  // What that copy holds and has dropped (its counters read when due: at most once a second);
  // nullopt when there is none.
  virtual std::optional<KernelBlockFigures> kernel_block_figures() { return std::nullopt; }
  // The ports other tools (Docker) publish with DNAT rules of their own, as last read.
  virtual std::vector<PublishedPort> published() const { return {}; }
};

}  // namespace portwall
