// fake_live_firewall.h — a running firewall without a kernel, for ControlService's tests: the
// policy in force swapped as portwalld swaps it, one real Engine per "queue" (tasks run at once,
// on the caller's thread), and a record of what the kernel would have been asked. An audit
// trail that keeps its events.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "audit/audit_trail.h"
#include "control/live_firewall.h"

namespace portwall {

class FakeLiveFirewall final : public LiveFirewall {
 public:
  FakeLiveFirewall(const LoadedPolicy& loaded, std::shared_ptr<SourceTable> sources,
                   std::shared_ptr<BlockList> blocks, const Clock& clock, std::size_t queues = 2)
      : clock_(clock),
        policy_(std::make_shared<const PolicySnapshot>(RuleSet(loaded.rules))),
        settings_(std::make_shared<const LiveSettings>(LiveSettings::of(loaded))),
        mode_(loaded.config.daemon.mode) {
    EngineOptions options;
    options.conntrack.max_entries = 1024;
    options.sources = std::move(sources);
    options.blocks = std::move(blocks);
    for (std::size_t i = 0; i < queues; ++i) {
      engines_.push_back(std::make_unique<Engine>(policy_, options));
    }
  }

  std::shared_ptr<const PolicySnapshot> snapshot() const override { return policy_; }
  std::shared_ptr<const LiveSettings> settings() const override { return settings_; }
  Mode mode() const override { return mode_; }
  // As portwalld's: the forwards first; refused, nothing changes.
  std::expected<void, std::string> install(LoadedPolicy fresh, Mode mode) override {
    ++installs;
    if (!refuse_install.empty()) return std::unexpected(refuse_install);
    auto next = std::make_shared<PolicySnapshot>(std::move(fresh.rules), policy_.get());
    next->inherit_hits(*policy_);
    policy_ = std::move(next);
    settings_ = std::make_shared<const LiveSettings>(LiveSettings::of(fresh));
    set_mode(mode);
    for (auto& e : engines_) e->set_policy(policy_);
    return {};
  }
  void set_mode(Mode mode) override {
    mode_ = mode;
    for (auto& e : engines_) e->set_monitor(mode == Mode::monitor);
  }
  void reloading(bool begins) override {
    (begins ? reloads_begun : reloads_ended) += 1;
    if (!begins && reloads_ended > reloads_begun) unbalanced = true;
  }

  std::size_t queue_count() const override { return engines_.size(); }
  std::uint16_t queue_number(std::size_t queue) const override {
    return static_cast<std::uint16_t>(100 + queue);
  }
  // What a queue thread publishes after its batch (QueueWorker::publish), published now.
  Figures queue_figures(std::size_t queue) const override {
    Engine& e = *engines_[queue];
    e.counters().set(Counter::flows, e.conntrack().size());
    return std::as_const(e).counters().read();
  }
  bool run_on_queue(std::size_t queue, QueueTask task) override {
    if (queue == silent_queue) return false;  // "did not answer in time"
    task(*engines_[queue], clock_.now());
    return true;
  }
  std::expected<std::uint64_t, std::string> queued_packets() override { return queued; }
  std::expected<std::vector<KernelQueueStats>, std::string> kernel_queue_stats() override {
    return std::vector<KernelQueueStats>{};
  }
  std::string backend_name() const override { return "fake"; }
  std::expected<std::size_t, std::string> end_kernel_entries(
      std::span<const FlowKey> cut) override {
    ended.insert(ended.end(), cut.begin(), cut.end());
    return cut.size();
  }
  void bring_back_offloaded(const char* why) override { offload_flushes.emplace_back(why); }
  void reopen_pickup() override { ++pickups_reopened; }
  std::string forwarding_problem() const override { return ""; }
  DecisionLogStats decision_log_stats() const override { return {}; }

  Engine& engine(std::size_t queue) { return *engines_[queue]; }

  // What the tests set and read.
  std::string refuse_install;  // install() fails with this when not empty
  std::size_t silent_queue = ~std::size_t{0};
  std::uint64_t queued = 0;
  int installs = 0, reloads_begun = 0, reloads_ended = 0, pickups_reopened = 0;
  bool unbalanced = false;  // an end of a reload that had not begun
  std::vector<FlowKey> ended;
  std::vector<std::string> offload_flushes;

 private:
  const Clock& clock_;
  std::shared_ptr<const PolicySnapshot> policy_;
  std::shared_ptr<const LiveSettings> settings_;
  Mode mode_;
  std::vector<std::unique_ptr<Engine>> engines_;
};

class FakeAuditTrail final : public AuditTrail {
 public:
  struct Event {
    long uid;
    std::string action, result, detail;
  };
  void record(long uid, const std::string& action, const std::string& result,
              const std::string& detail) override {
    std::lock_guard<std::mutex> lock(mutex_);
    events.push_back({uid, action, result, detail});
  }
  std::uint64_t failed_lines() const override { return 0; }
  // The last event of `action`, or an empty one.
  Event last(const std::string& action) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->action == action) return *it;
    }
    return {};
  }
  std::vector<Event> events;

 private:
  mutable std::mutex mutex_;
};

}  // namespace portwall
