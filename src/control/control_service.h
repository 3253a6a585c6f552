// control_service.h — the answers to portwall's requests on the control socket: who may ask
// what (roles), status, mode, explain / conntrack / blocked / ports, rule changes, apply with its
// confirmation window and rollback, the enable confirmation, and the recheck that cuts the
// connections a new policy denies. Reaches the running firewall only through LiveFirewall, time
// through a Clock, the change log through an AuditTrail.
// Thread-safety: handle() runs on the control thread while the main thread calls reload(),
// status(), keep_confirmation() and enable_expired(); every change of policy (a rule change,
// apply, rollback, reload, mode) is serialized by one lock, so one is installed at a time.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "audit/audit_trail.h"
#include "clock/clock.h"
#include "config/policy_files.h"
#include "control/control_server.h"
#include "control/live_firewall.h"
#include "detect/block_list.h"
#include "detect/source_table.h"
#include "policy/explain.h"

namespace portwall {

// `portwall enable --confirm DURATION`: portwalld stops again unless confirmed by the deadline.
struct PendingEnable {
  Timestamp deadline{};
  std::int64_t deadline_unix_ms = 0;
  std::string by, within;
  std::string file;  // the state file that asked for it, removed once confirmed
};

struct ControlSetup {
  LiveFirewall& live;
  AuditTrail& audit;
  const Clock& clock;
  std::function<void(const std::string&)> say;  // portwalld's own messages (stderr, journal)
  std::shared_ptr<SourceTable> sources;         // shared with every queue thread
  std::shared_ptr<BlockList> blocks;
  PolicyPaths paths;                          // where reloads and rule changes read the policy
  const FileSystem& fs = FileSystem::disk();  // every file read and written
  // The configuration portwalld started with: what only a restart changes (queues, table
  // sizes) is shown from it.
  Config started;
  RuleSources sources_in_force;  // what the load of the policy in force read
  // Who may do what: root and portwalld's own user administer, and so does admin_group; the
  // read group may only read. -1: no such group.
  uid_t own_uid = 0;
  long audit_uid = 0;  // portwalld's own audit records (a rollback): its real uid
  gid_t admin_gid = static_cast<gid_t>(-1), read_gid = static_cast<gid_t>(-1);
};

class ControlService {
 public:
  explicit ControlService(ControlSetup setup);

  // One request from the control socket, answered (control_protocol.h's shapes).
  nlohmann::json handle(const nlohmann::json& request, const Peer& peer);
  // SIGHUP: the files loaded again and installed; on error the policy in force stays.
  std::expected<void, std::string> reload(long uid, const char* origin);
  // DESIGN.md's status JSON (also the metrics file's source).
  nlohmann::json status();
  // Once a second on the main thread: an apply not confirmed in time rolls back.
  void keep_confirmation();
  bool apply_pending() const;
  // The enable confirmation (armed once portwalld is ready); once a second, the enable whose
  // time ran out, if any (portwalld then stops).
  void arm_enable(PendingEnable pending);
  std::optional<PendingEnable> enable_expired();

 private:
  enum class Role { none, reader, admin };
  Role role_of(const Peer& peer) const;
  void say(const std::string& line) const { say_(line); }

  // Tells the service manager a change of policy begins, and when it is over however it ends
  // (a refusal, an exception the control server turns into an error answer).
  class ReloadNotice {
   public:
    explicit ReloadNotice(LiveFirewall& live) : live_(live) { live_.reloading(true); }
    ~ReloadNotice() { live_.reloading(false); }
    ReloadNotice(const ReloadNotice&) = delete;
    ReloadNotice& operator=(const ReloadNotice&) = delete;

   private:
    LiveFirewall& live_;
  };
  // REQUIRES: change_mutex_ held. `audit`: false when the caller writes its own audit line.
  // Established flows the new rules deny are cut unless `keep_established`.
  std::expected<void, std::string> reload_locked(long uid, const char* origin, bool audit,
                                                 bool keep_established = false);
  // `fresh` (loaded, or made by a rule change from the rules in force) becomes the policy.
  // REQUIRES: change_mutex_ held, and a ReloadNotice alive.
  std::expected<void, std::string> install_locked(LoadedPolicy fresh, long uid, const char* origin,
                                                  bool audit, bool keep_established);
  // After a policy change (rules, blocks, mode): every queue thread judges its tracked flows
  // again (Engine::recheck); flows now denied are cut, unless kept or in monitor mode, and the
  // kernel's entries of the cut ones are ended; flows cut earlier that are allowed again are
  // restored. Said and audited when anything was cut or restored. The counts, as JSON.
  // `spared`: the address or range of `blocked add ADDR --keep-established`.
  nlohmann::json recheck_flows(Engine::Denied denied, long uid, const std::string& why,
                               const std::optional<Cidr>& spared = std::nullopt);
  static Engine::Denied denied_by(bool keep_established) {
    return keep_established ? Engine::Denied::keep : Engine::Denied::cut;
  }

  nlohmann::json change(const nlohmann::json& request, const Peer& peer);
  nlohmann::json mode_request(const std::optional<std::string>& action, const Peer& peer,
                              bool keep_established);
  // Knock ports and the doors they open are for administrators (`show_knocks`).
  nlohmann::json explain_request(const nlohmann::json& request, bool show_knocks);
  DefenseFacts defense_facts(const Probe& probe, const PolicySnapshot& policy, bool show_knocks);
  nlohmann::json ports_request(const nlohmann::json& request, bool show_knocks);
  nlohmann::json conntrack_request(const nlohmann::json& request, const Peer& peer);
  nlohmann::json blocked_request(const nlohmann::json& request, const Peer& peer);
  nlohmann::json apply_request(const nlohmann::json& request, const Peer& peer);
  nlohmann::json confirm_request(const Peer& peer);
  std::optional<nlohmann::json> confirm_enable(const Peer& peer);  // nullopt: none pending
  nlohmann::json pending_enable_json() const;

  // `portwall apply FILE [--confirm DURATION]`: with a confirmation, the previous rules file is
  // kept beside the live one (rollback_path()) until `portwall confirm`; when the time runs
  // out, or at the next start if portwalld stopped meanwhile, it is put back and reloaded.
  struct PendingConfirmation {
    Timestamp deadline{};
    std::int64_t deadline_unix_ms = 0;
    std::string by, file, within;
    bool keep_established = false;
    std::size_t applied_hash = 0;  // of the text applied: a hand edit meanwhile shows
    bool failure_said = false;     // a rollback that failed was said (it is tried again)
  };
  void set_pending(std::optional<PendingConfirmation> pending);
  std::string rollback_path() const { return live_.settings()->rules_file + ".unconfirmed"; }
  std::string pending_refusal() const;  // REQUIRES: pending_ set

  // Table slots a queue thread copies per task of `conntrack list` (a table of 2^20 slots is
  // walked in 256 tasks, each a few hundred microseconds between batches of packets).
  static constexpr std::size_t kConntrackSlice = 4096;
  // status: the kernel's queue-rule counters (iptables-save), read at most this often.
  static constexpr Duration kKernelCountersEvery = std::chrono::seconds(1);

  LiveFirewall& live_;
  AuditTrail& audit_;
  const Clock& clock_;
  std::function<void(const std::string&)> say_;
  std::shared_ptr<SourceTable> sources_;
  std::shared_ptr<BlockList> blocks_;
  const PolicyPaths paths_;
  const FileSystem& fs_;
  const Config started_;
  const uid_t own_uid_;
  const long audit_uid_;
  const gid_t admin_gid_, read_gid_;

  // Serializes every change of policy (see above); guards what follows it.
  std::mutex change_mutex_;
  // What the last load read and the configuration it gave: a rule change made while no file
  // has changed since is applied to the rules in force, without parsing 10^5 rules again.
  RuleSources sources_in_force_;
  Config config_in_force_;
  nlohmann::json last_recheck_ = nlohmann::json::object();
  // `portwall mode monitor|enforce`: holds over the configuration's [daemon] mode through
  // reloads (a rule change reloads) until portwalld restarts.
  std::optional<Mode> live_mode_;
  std::atomic<bool> mode_by_cli_{false};  // live_mode_ is set (read by status without the lock)
  // Written under change_mutex_ and pending_mutex_; status reads it under pending_mutex_ only.
  std::optional<PendingConfirmation> pending_;
  mutable std::mutex pending_mutex_;
  std::optional<PendingEnable> pending_enable_;  // guarded by pending_mutex_

  std::mutex kernel_counters_mutex_;
  std::optional<Timestamp> kernel_counters_read_;  // guarded by kernel_counters_mutex_
  nlohmann::json uninspected_;                     // guarded by kernel_counters_mutex_
};

// At start, before anything is loaded: an apply that was never confirmed (its rules file's
// `.unconfirmed` twin exists) is rolled back. The note for the audit log, or empty; `failed`
// set when the previous rules could not be put back.
std::string roll_back_unconfirmed_at_start(const std::string& rules_file, bool* failed);

// A refused request as the audit log keeps it: its JSON, at most 512 bytes, bytes that are not
// UTF-8 replaced.
std::string request_excerpt(const nlohmann::json& request);

}  // namespace portwall
