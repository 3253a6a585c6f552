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
#include "control/control_server.h"
#include "pipeline/queue_worker.h"
#include "netfilter/diversion.h"
#include "policy/explain.h"
#include "config/config.h"
#include "config/policy_files.h"

namespace portwall {

// portwalld's own messages, on stderr ("portwalld: ..."; the journal under systemd).
void say(const std::string& line);

struct DaemonPaths {
  std::string config;
  std::string rules_override;   // --rules
  std::string socket_override;  // --socket
};

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
            files.config.metrics, files.rules_file, files.rules_dir};
  }
};

// Loads the configuration and the rules named by `paths` (command line over config file).
using LoadedPolicy = PolicyFiles;
// `previous`: the sources of the last load (set files unchanged since are not read again).
std::expected<LoadedPolicy, std::string> load_policy(const DaemonPaths& paths,
                                                     const RuleSources* previous = nullptr);

class Daemon {
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
  // Loads and swaps in the rules; on error the old rules stay in force and the error is returned.
  std::expected<void, std::string> reload(long uid, const char* origin);
  // REQUIRES: reload_mutex_ held. `audit`: false when the caller writes its own audit line.
  // Established flows the new rules deny are cut unless `keep_established` (recheck_flows).
  std::expected<void, std::string> reload_locked(long uid, const char* origin, bool audit,
                                                 bool keep_established = false);
  // The second half of a reload: `fresh` (loaded, or made by a rule change from the rules in
  // force) becomes the policy. REQUIRES: reload_mutex_ held.
  std::expected<void, std::string> install_locked(LoadedPolicy fresh, long uid, const char* origin,
                                                  bool audit, bool keep_established);
  // What the last load read and the configuration it gave, kept so that a rule change made
  // while no file has changed since is applied to the rules in force, without parsing 10^5
  // rules again. Guarded by reload_mutex_ (written without it only at start, before any thread).
  RuleSources sources_in_force_;
  Config config_in_force_;
  // After a policy change (rules, blocks, mode): every queue thread judges its tracked flows
  // again (Engine::recheck); flows now denied are cut, unless kept or in monitor mode, and
  // the kernel's entries of the cut ones are ended; flows cut earlier that are allowed again
  // are restored. Said and audited when anything was cut or restored. The counts, as JSON.
  // `denied`: cut, keep (--keep-established) or leave (only restore; an unblock). `spared`:
  // the address of `blocked add ADDR --keep-established`, whose connections outlive its block.
  nlohmann::json recheck_flows(Engine::Denied denied, long uid, const std::string& why,
                               const std::optional<IpAddress>& spared = std::nullopt);
  static Engine::Denied denied_by(bool keep_established) {
    return keep_established ? Engine::Denied::keep : Engine::Denied::cut;
  }
  nlohmann::json last_recheck_ = nlohmann::json::object();

  // `portwall apply FILE [--confirm DURATION]`: the file's rules replace the rules file, live.
  // With a confirmation, the previous file is kept beside it (rollback_path()) until `portwall
  // confirm`; when the time runs out, or at the next start if portwalld stopped meanwhile, it is
  // put back and reloaded. Guarded by reload_mutex_.
  struct PendingConfirmation {
    Timestamp deadline{};
    std::int64_t deadline_unix_ms = 0;
    std::string by, file, within;
    bool keep_established = false;
    std::size_t applied_hash = 0;  // of the text applied: a hand edit meanwhile shows
    bool failure_said = false;     // a rollback that failed was said (it is tried again)
  };
  std::optional<PendingConfirmation> pending_;
  // Written under reload_mutex_ and pending_mutex_; status reads it under pending_mutex_ only.
  mutable std::mutex pending_mutex_;
  void set_pending(std::optional<PendingConfirmation> pending) {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    pending_ = std::move(pending);
  }
  std::string rollback_path() const { return settings()->rules_file + ".unconfirmed"; }
  nlohmann::json apply_request(const nlohmann::json& request, const Peer& peer);
  nlohmann::json confirm_request(const Peer& peer);
  // Once a second on the main thread: rolls an unconfirmed apply back when its time is up.
  void keep_confirmation();
  // At start, before anything is loaded: an apply that was never confirmed is rolled back.
  // The note for the audit log, or empty.
  std::string roll_back_unconfirmed_at_start(const std::string& rules_file);
  std::string rolled_back_at_start_;
  bool rollback_at_start_failed_ = false;
  // Why other rule changes wait while a confirmation is pending.
  std::string pending_refusal() const;
  // Starting without locking the administrator out (first_start.cc): the files beside the state
  // file that ask for a lockout check (`first-start`) and an enable confirmation
  // (`enable-confirm`); "" when there is no state file.
  std::string state_path(const char* name) const;
  // Before the kernel is touched: "" to go on, else why the rules would lock SSH out.
  std::string refuse_first_start_lockout();
  bool first_start_checked_ = false;
  void first_start_done();  // once ready: the check is not asked again
  struct PendingEnable {
    Timestamp deadline{};
    std::int64_t deadline_unix_ms = 0;
    std::string by, within;
  };
  std::optional<PendingEnable> pending_enable_;  // guarded by pending_mutex_
  void arm_enable_confirmation();                // once ready
  bool enable_expired();  // once a second: true when portwalld is to stop, unconfirmed
  std::optional<nlohmann::json> confirm_enable(const Peer& peer);  // nullopt: none pending
  nlohmann::json pending_enable_json() const;
  // A rule change from `portwall allow ...`: parsed, applied to the rules file, written
  // atomically, then reloaded; refused changes leave file and live rules as they were.
  nlohmann::json change(const nlohmann::json& request, const Peer& peer);
  nlohmann::json handle(const nlohmann::json& request, const Peer& peer);
  enum class Role { none, reader, admin };
  Role role_of(const Peer& peer) const;
  nlohmann::json status_json();
  // Knock ports and the doors they open are for administrators: a reader learns nothing of
  // them from explain (`show_knocks` false).
  nlohmann::json explain_request(const nlohmann::json& request, bool show_knocks);
  DefenseFacts defense_facts(const Probe& probe, const PolicySnapshot& policy, bool show_knocks);
  nlohmann::json ports_request(const nlohmann::json& request, bool show_knocks);
  nlohmann::json conntrack_request(const nlohmann::json& request, const Peer& peer);
  // Table slots a queue thread copies per task of `conntrack list` (a table of 2^20 slots is
  // walked in 256 tasks, each a few hundred microseconds between batches of packets).
  static constexpr std::size_t kConntrackSlice = 4096;
  // status: the kernel's queue-rule counters (iptables-save), read at most this often.
  static constexpr Duration kKernelCountersEvery = std::chrono::seconds(1);
  std::mutex kernel_counters_mutex_;
  std::optional<Timestamp> kernel_counters_read_;  // guarded by kernel_counters_mutex_
  nlohmann::json uninspected_;                     // guarded by kernel_counters_mutex_
  nlohmann::json blocked_request(const nlohmann::json& request, const Peer& peer);
  std::shared_ptr<const PolicySnapshot> snapshot() const;
  std::shared_ptr<const LiveSettings> settings() const;
  // The mode in force and whether `portwall mode` set it (else the configuration).
  std::pair<Mode, bool> mode() const;
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
  // inspect = "new": ends the kernel's offloaded connection entries so that every offloaded
  // connection's next packet is judged again (after a block or a rule change).
  void bring_back_offloaded(const char* why);
  // Connections whose flows are gone (a flush of portwalld's table or of the kernel's offload
  // marks) are picked up again for [conntrack] pickup_grace, as at start.
  void reopen_pickup();
  // The TCP sockets listening here now (for the direction of picked-up connections), or null.
  std::shared_ptr<const LocalSockets> local_sockets() const;
  static constexpr std::uint32_t kOffloadMark = 0x00400000;
  std::uint32_t offload_mark_ = 0;
  std::uint64_t blocks_seen_ = 0;  // block list generation the offload flush last followed

  DaemonPaths paths_;
  std::vector<std::string> argv_;
  // At start: the configuration and rules. After start only what a reload leaves alone is read
  // from it; the rest is settings().
  LoadedPolicy loaded_;
  SteadyClock clock_;
  Timestamp started_{};

  std::mutex reload_mutex_;  // SIGHUP and the control socket may both reload
  mutable std::mutex policy_mutex_;  // guards the four below; writers also hold reload_mutex_
  std::shared_ptr<const PolicySnapshot> policy_;
  std::shared_ptr<const LiveSettings> settings_;
  Mode mode_ = Mode::enforce;
  // `portwall mode monitor|enforce`: holds over the configuration's [daemon] mode through
  // reloads (a rule change reloads) until portwalld restarts.
  std::optional<Mode> live_mode_;
  nlohmann::json mode_request(const std::optional<std::string>& action, const Peer& peer,
                              bool keep_established);

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
  std::string forwarding_problem() const {
    std::lock_guard<std::mutex> lock(forwarding_mutex_);
    return forwarding_problem_;
  }
  std::unique_ptr<ControlServer> control_;
  gid_t admin_gid_ = static_cast<gid_t>(-1), read_gid_ = static_cast<gid_t>(-1);
};

}  // namespace portwall
