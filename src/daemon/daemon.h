// daemon.h — portwalld's wiring: configuration and rules in, queue threads, the diversion
// rules, the logs and the control socket up, signals handled until SIGTERM, everything torn
// down in reverse. Owns every long-lived object of the process.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit/decision_log.h"
#include "clock/clock.h"
#include "config/config.h"
#include "config/policy_files.h"
#include "control/control_server.h"
#include "control/control_service.h"
#include "control/live_firewall.h"
#include "detect/block_mirror.h"
#include "detect/blocked_log_gate.h"
#include "netfilter/diversion.h"
#include "pipeline/queue_worker.h"

namespace portwall {

// portwalld's own messages, on stderr ("portwalld: ..."; the journal under systemd).
void say(const std::string& line);

// The configuration file and what the command line puts over it.
using DaemonPaths = PolicyPaths;

// What an earlier image of this process handed over across execve (reexec.cc): the queue
// sockets by queue number, the control socket (-1: none). The environment that carried them is
// cleared.
struct Handover {
  std::map<std::uint16_t, int> queues;
  std::map<std::uint16_t, int> flows;  // memfds of the tracked flows (flow_handover.h) by queue
  int control = -1;
  // The forwarding switches the earlier image turned on (by family: ipv4, ipv6): still its
  // own to turn off, with routed traffic dropped meanwhile.
  std::array<bool, 2> forwarding_ours{};
};
Handover take_handover();
// The flows of a memfd from Handover::flows (closed then), at most `most`.
std::vector<HandedFlow> read_handed_flows(int fd, std::size_t most);

// Loads the configuration and the rules named by `paths` (command line over config file).
inline std::expected<LoadedPolicy, std::string> load_policy(const DaemonPaths& paths) {
  return load_policy_files(paths);
}

class Daemon final : private LiveFirewall {
 public:
  // `argv`: the command line, for a re-exec (SIGUSR2) with the same words.
  explicit Daemon(DaemonPaths paths, std::vector<std::string> argv = {})
      : paths_(std::move(paths)), argv_(std::move(argv)) {}
  ~Daemon();

  // Runs until SIGTERM/SIGINT; the process exit code.
  int run();

 private:
  std::expected<void, std::string> start();
  // The loaded rules into policy_, once (at start, or earlier for the first-start check).
  void compile_policy();
  void shutdown();
  // SIGUSR2 (reexec.cc): executes the binary again in place, handing the queues over. Returns
  // only when it failed: -1 nothing was changed (go on), 1 portwalld must stop.
  int reexec();

  // LiveFirewall, for the control service (control/control_service.h).
  std::shared_ptr<const PolicySnapshot> snapshot() const override;
  std::shared_ptr<const LiveSettings> settings() const override;
  Mode mode() const override;
  std::expected<void, std::string> install(LoadedPolicy fresh, Mode mode) override;
  void set_mode(Mode mode) override;
  void reloading(bool begins) override;
  std::size_t queue_count() const override { return workers_.size(); }
  std::uint16_t queue_number(std::size_t queue) const override {
    return workers_[queue]->queue_number();
  }
  Figures queue_figures(std::size_t queue) const override { return workers_[queue]->figures(); }
  bool run_on_queue(std::size_t queue, QueueTask task) override {
    return workers_[queue]->run_on_thread(std::move(task));
  }
  std::expected<std::uint64_t, std::string> queued_packets() override {
    return diversion_->queued_packets();
  }
  std::expected<std::vector<KernelQueueStats>, std::string> kernel_queue_stats() override {
    return read_kernel_queue_stats();
  }
  std::string backend_name() const override { return diversion_->name(); }
  std::expected<std::size_t, std::string> end_kernel_entries(std::span<const FlowKey> cut) override;
  // inspect = "new": ends the kernel's offloaded connection entries so that every offloaded
  // connection's next packet is judged again (after a block or a rule change).
  void bring_back_offloaded(const char* why) override;
  // Connections whose flows are gone (a flush of portwalld's table or of the kernel's offload
  // marks) are picked up again for [conntrack] pickup_grace, as at start.
  void reopen_pickup() override;
  std::string forwarding_problem() const override {
    std::lock_guard<std::mutex> lock(forwarding_mutex_);
    return forwarding_problem_;
  }
  DecisionLogStats decision_log_stats() const override { return decision_log_->stats(); }
  std::optional<CrowdSecFigures> crowdsec_figures() const override;
  void follow_blocks(const std::optional<Cidr>& spared) override;
  std::optional<KernelBlockFigures> kernel_block_figures() override;
  std::vector<PublishedPort> published() const override { return *published_->get(); }

  // The block list's copy in the kernel (block_mirror.h, DiversionSpec::block_set_size):
  // follows the list once a second (from keep_defenses()) and after a request changed it; once
  // a second its counters are read (every few seconds with many entries; a status reads them
  // when due too), and what each block dropped is logged as the queue threads log a blocked
  // source: its first packets, then once a minute with a count (the shared BlockedLogGate).
  // REQUIRES: mirror_mutex_ held.
  void plan_blocks_locked();
  // The counters, when due: once a second, less often past 20,000 entries.
  void read_block_counts_locked();
  void log_kernel_drops_locked(const std::vector<KernelDrops>& drops, Timestamp now);
  mutable std::mutex mirror_mutex_;
  bool mirroring_ = false;                  // the kernel set is in place
  BlockMirror mirror_;                      // guarded by mirror_mutex_
  std::vector<Cidr> spared_;                // guarded: ranges blocked with --keep-established
  std::uint64_t mirrored_version_ = ~0ull;  // the list's version last followed
  Mode mirrored_mode_ = Mode::enforce;
  Timestamp mirrored_at_{}, counts_read_at_{};
  bool mirror_failing_ = false, counts_failing_ = false;
  std::string kernel_block_problem_;
  std::shared_ptr<BlockedLogGate> blocked_log_;
  std::uint32_t max_lines_per_second_ = 0;

  // Starting without locking the administrator out (first_start.cc): the files beside the state
  // file that ask for a lockout check (`first-start`) and an enable confirmation
  // (`enable-confirm`); "" when there is no state file.
  std::string state_path(const char* name) const;
  // Before the kernel is touched: "" to go on, else why the rules would lock SSH out.
  std::string refuse_first_start_lockout();
  bool first_start_checked_ = false;
  void first_start_done();         // once ready: the check is not asked again
  void arm_enable_confirmation();  // once ready
  bool enable_expired();           // once a second: true when portwalld is to stop, unconfirmed
  // At start: the note of an apply never confirmed and rolled back before loading, or empty.
  std::string rolled_back_at_start_;
  bool rollback_at_start_failed_ = false;
  // The defenses' state file ([daemon] state_file): read at start, written atomically when the
  // block list or the used one-time knocks change (checked every second) and at stop.
  void load_defense_state();
  void save_defense_state(bool force);
  // Once a second on the main thread: expired blocks leave (audited), the state file follows,
  // and every kInfrastructureEvery the addresses scan detection trusts are read again.
  void keep_defenses();
  // The host's own, gateway and resolver addresses (host/infrastructure.h) to the source table;
  // said when they change. At start, at reload and from keep_defenses().
  void trust_infrastructure();
  static constexpr Duration kInfrastructureEvery = std::chrono::seconds(30);
  std::mutex infrastructure_mutex_;
  Timestamp infrastructure_read_{};  // guarded by infrastructure_mutex_
  // Once a second on the main thread: every [metrics] interval, the counters are written to
  // [metrics] textfile (atomically) in Prometheus' text format. A failure is said once, then
  // again only after a success.
  void keep_metrics_file();
  Timestamp metrics_written_{};
  bool metrics_failing_ = false;
  // The TCP sockets listening here now (for the direction of picked-up connections), or null.
  std::shared_ptr<const LocalSockets> local_sockets() const;
  static constexpr std::uint32_t kOffloadMark = 0x00400000;
  std::uint32_t offload_mark_ = 0;
  std::uint64_t blocks_seen_ = 0;  // block list generation the offload flush last followed

  DaemonPaths paths_;
  std::vector<std::string> argv_;
  // At start: the configuration and rules (the rules move to policy_, the sources to the
  // control service). After start only what a reload leaves alone is read from it; the rest is
  // settings().
  LoadedPolicy loaded_;
  SteadyClock clock_;
  Timestamp started_{};

  // Guards the three below; their writers (install, set_mode) are serialized by the control
  // service.
  mutable std::mutex policy_mutex_;
  std::shared_ptr<const PolicySnapshot> policy_;
  std::shared_ptr<const LiveSettings> settings_;
  Mode mode_ = Mode::enforce;
  std::unique_ptr<DecisionLog> decision_log_;
  std::unique_ptr<AuditLog> audit_log_;
  std::shared_ptr<SourceTable> sources_;  // shared by every queue thread
  std::shared_ptr<BlockList> blocks_;
  std::uint64_t saved_generation_ = ~0ull;  // blocks' + sources' generation last written
  std::uint64_t saved_urgent_ = 0;          // manual blocks' + sources' generation last written
  Timestamp saved_at_{};
  // Scan blocks and expiries reach the state file at most this often (a flood of forged
  // scanners does not rewrite it every second); manual blocks, knocks and SPA nonces at once.
  static constexpr Duration kScanStateEvery = std::chrono::seconds(10);
  std::vector<std::unique_ptr<QueueWorker>> workers_;
  std::unique_ptr<Diversion> diversion_;
  DiversionSpec spec_;  // what was installed; its forwards follow the rules on reload
  // Held while the forward chain is replaced (a rule change, or keep_published()).
  std::mutex routing_mutex_;
  // Ports other tools publish (Docker's DNAT; rules/published_ports.h), read every
  // kPublishedEvery from the main loop and at start: the queue threads judge their connections
  // by the host's port, and the forward chain hooks DOCKER-USER's top whenever that chain
  // exists (again after Docker re-created its chains). Changes are said.
  void keep_published();
  // Takes a fresh reading of them, saying what appeared and what went.
  void note_published(const std::vector<PublishedPort>& read);
  static constexpr Duration kPublishedLinger = std::chrono::seconds(30);
  std::vector<std::pair<PublishedPort, Timestamp>> published_seen_;
  static constexpr Duration kPublishedEvery = std::chrono::seconds(2);
  std::shared_ptr<PublishedSet> published_ = std::make_shared<PublishedSet>();
  Timestamp published_read_{};
  bool diversion_installed_ = false;
  // Port forwards: the kernel NAT rules follow the rules' [[forward]] tables. A forward to
  // another host needs the namespace's IP forwarding on: turned on (said), with every other
  // routed packet dropped (spec_.routed_deny, in place first), and back off when no forward
  // needs it and at stop (off first, then the drop goes). A failure is said and shown in
  // status, not fatal. follow_forwards(): the switches after spec_.forwards.
  void follow_forwards();
  // Turns off what portwalld turned on and `next` does not need, and clears their
  // spec_.routed_deny: the caller installs the rules after. True if anything changed.
  bool release_forwarding(const std::vector<Forward>& next);
  // No forward any more (refused, lost): forwarding off, rules removed.
  void drop_forwards();
  std::array<bool, 2> forwarding_turned_on_{};  // by Family: ipv4, ipv6
  // Which switches are portwalld's, kept beside the state file with the boot's id, so that a
  // restart after a crash still owns them (a re-exec hands them over).
  std::string forwarding_marker_path() const;
  std::array<bool, 2> read_forwarding_marker() const;
  void write_forwarding_marker();
  // What keeps the forwards from working, for status (written on the main and control
  // threads, read by status).
  mutable std::mutex forwarding_mutex_;
  std::string forwarding_problem_;
  void set_forwarding_problem(std::string problem) {
    std::lock_guard<std::mutex> lock(forwarding_mutex_);
    forwarding_problem_ = std::move(problem);
  }
  // The CrowdSec Local API's link: made at start and by a reload that changes [crowdsec] (the
  // old one stops first); off: the feed's blocks are lifted. Replaced on the control thread,
  // read by status.
  void follow_crowdsec(const CrowdSecSection& config);
  void stop_crowdsec();  // at stop and re-exec: the link ends, its blocks stay
  mutable std::mutex crowdsec_mutex_;
  std::unique_ptr<CrowdSecLink> crowdsec_;
  // Requests are answered by the service, received by the server (which goes first at stop).
  std::unique_ptr<ControlService> control_;
  std::unique_ptr<ControlServer> control_server_;
};

}  // namespace portwall
