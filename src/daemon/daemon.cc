#include "daemon/daemon.h"

#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "control/control_protocol.h"
#include "daemon/privileges.h"
#include "fs/file_system.h"
#include "host/ip_forwarding.h"
#include "netfilter/conntrack_flush.h"
#include "rules/forward.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace portwall {

void say(const std::string& line) {
  std::fprintf(stderr, "portwalld: %s\n", line.c_str());
  std::fflush(stderr);
}

namespace {

SourcePolicy source_policy_of(const Config& cfg) {
  SourcePolicy p;
  p.scan = cfg.scan_detection;
  p.new_connections = cfg.limits.new_connections;
  p.max_connections_per_source = cfg.limits.max_connections_per_source;
  p.knocks = cfg.knocks;
  return p;
}

ConntrackLimits limits_of(const ConntrackSection& c) {
  ConntrackLimits l;
  l.max_entries = c.max_entries;
  l.tcp_established = c.tcp_established_timeout;
  l.udp_unreplied = c.udp_timeout;
  return l;
}

}  // namespace

Daemon::~Daemon() { shutdown(); }

std::shared_ptr<const PolicySnapshot> Daemon::snapshot() const {
  std::lock_guard<std::mutex> lock(policy_mutex_);
  return policy_;
}

std::shared_ptr<const LiveSettings> Daemon::settings() const {
  std::lock_guard<std::mutex> lock(policy_mutex_);
  return settings_;
}

Mode Daemon::mode() const {
  std::lock_guard<std::mutex> lock(policy_mutex_);
  return mode_;
}

void Daemon::compile_policy() {
  if (policy_) return;
  // The snapshot is the one copy of the rules the daemon keeps (100,000 rules are ~50 MiB).
  policy_ = std::make_shared<const PolicySnapshot>(std::move(loaded_.rules));
  loaded_.rules = {};
  settings_ = std::make_shared<const LiveSettings>(LiveSettings::of(loaded_));
}

std::expected<void, std::string> Daemon::start() {
  started_ = clock_.now();
  const Config& cfg = loaded_.config;
  gid_t admin_gid = static_cast<gid_t>(-1), read_gid = static_cast<gid_t>(-1);
  // The control socket is bound and given to its group while the process may still chown;
  // then every capability but the network ones goes, before any thread starts.
  for (auto [name, gid] : {std::pair{&cfg.daemon.admin_group, &admin_gid},
                           std::pair{&cfg.daemon.read_group, &read_gid}}) {
    if (name->empty()) continue;
    group entry{}, *found = nullptr;
    char buf[4096];
    if (getgrnam_r(name->c_str(), &entry, buf, sizeof buf, &found) != 0 || !found) {
      return std::unexpected("[daemon] no group named \"" + *name + "\"");
    }
    *gid = found->gr_gid;
  }
  // The administrators' group owns the socket (else the readers'); the readers' group may use
  // it too (an ACL entry): neither needs to be in the other.
  const gid_t socket_gid = admin_gid != static_cast<gid_t>(-1) ? admin_gid : read_gid;
  // After a re-exec (SIGUSR2) the sockets are still open: adopted, with what waits in them.
  Handover handed = take_handover();
  std::expected<std::unique_ptr<ControlServer>, std::string> control =
      std::unexpected(std::string("not handed over"));
  bool adopted = false;
  if (handed.control >= 0) {
    control = ControlServer::adopt(cfg.daemon.socket, handed.control);
    adopted = control.has_value();
    if (!control) say(control.error() + ": binding it again");
  }
  if (!control) control = ControlServer::listen(cfg.daemon.socket, socket_gid);
  if (!control) return std::unexpected(control.error());
  // Also for an adopted socket (an upgrade may change who owns it). A re-exec'd image has no
  // CAP_CHOWN left: then the socket stays as it was until the next restart, said, not fatal.
  if (auto access = set_socket_access(cfg.daemon.socket, socket_gid, read_gid); !access) {
    if (!adopted) return std::unexpected(access.error());
    say(access.error() + "; the socket keeps its owner until portwalld restarts");
  } else if (!access->empty()) {
    say(*access);
  }
  control_server_ = std::move(*control);
  std::vector<std::string> notes;
  if (auto dropped = keep_only_network_capabilities(&notes); !dropped) {
    return std::unexpected("dropping capabilities: " + dropped.error());
  }
  for (const std::string& note : notes) say(note);
  mode_ = cfg.daemon.mode;
  compile_policy();
  const std::size_t rule_count = policy_->rule_set().rules.size();
  malloc_trim(0);  // hand the TOML parse's peak back to the system

  auto decisions = DecisionLog::open(cfg.log.file, cfg.log.format, 4096, cfg.log.target);
  if (!decisions) return std::unexpected(decisions.error());
  decision_log_ = std::move(*decisions);
  auto audit = AuditLog::open(cfg.log.audit_file, cfg.log.format, cfg.log.target);
  if (!audit) return std::unexpected(audit.error());
  audit_log_ = std::move(*audit);

  DiversionSpec spec;
  spec.queues = cfg.daemon.queues;
  spec.bypass = cfg.daemon.fail_open;
  // inspect = "new": established connections are offloaded to the kernel by a connmark bit.
  offload_mark_ = cfg.daemon.inspect == Inspect::new_only ? kOffloadMark : 0;
  spec.offload_mark = offload_mark_;
  // Room for every block, and a quarter more: the kernel counts an expired entry until its
  // garbage collection, and a full set refuses the whole batch of changes.
  spec.block_set_size =
      cfg.daemon.kernel_blocks ? cfg.limits.max_blocks + cfg.limits.max_blocks / 4 + 1024 : 0;

  // Bind every queue before the diversion rules exist, so that no packet meets an empty queue.
  EngineOptions options;
  options.conntrack = limits_of(cfg.conntrack);
  options.conntrack.max_entries = std::max<std::uint32_t>(
      16, cfg.conntrack.max_entries / static_cast<std::uint32_t>(cfg.daemon.queues.size()));
  options.pickup_until = started_ + cfg.conntrack.pickup_grace;
  options.sockets = local_sockets();
  options.other_queues = cfg.daemon.queues.size() > 1;
  options.offload = offload_mark_ != 0;
  options.published = published_;
  sources_ = std::make_shared<SourceTable>(cfg.limits.max_sources, source_policy_of(cfg));
  trust_infrastructure();
  blocks_ = std::make_shared<BlockList>(cfg.limits.max_blocks);
  blocks_->set_scan_rate(cfg.scan_detection.new_blocks_per_second);
  trust_infrastructure();  // again, now that the block list exists: its feed's exemptions
  load_defense_state();
  malloc_trim(0);  // and the state file's (100,000 blocks: a JSON tree of about 100 MB)
  options.sources = sources_;
  options.blocks = blocks_;
  options.blocked_log = std::make_shared<BlockedLogGate>(cfg.limits.max_blocks);
  blocked_log_ = options.blocked_log;
  max_lines_per_second_ = cfg.log.max_lines_per_second;
  const std::uint32_t lines =
      cfg.log.max_lines_per_second == 0
          ? 0
          : std::max<std::uint32_t>(1, cfg.log.max_lines_per_second / cfg.daemon.queues.size());
  NfQueueOptions qopts;
  qopts.fail_open = cfg.daemon.fail_open;
  qopts.max_length = cfg.daemon.queue_length;
  qopts.reject_mark = spec.reject_mark;
  qopts.offload_mark = offload_mark_;
  qopts.redirect_mark = spec.redirect_mark;
  qopts.routed_mark = spec.routed_mark;
  qopts.published_mark = spec.published_mark;
  qopts.passed_mark = spec.passed_mark;
  std::map<std::uint16_t, int>& inherited = handed.queues;
  for (std::uint16_t number : cfg.daemon.queues) {
    auto found = inherited.find(number);
    auto queue = found == inherited.end() ? NfQueue::open(number, qopts)
                                          : NfQueue::adopt(number, found->second, qopts);
    if (found != inherited.end()) inherited.erase(found);
    if (!queue) return std::unexpected(queue.error());
    workers_.push_back(std::make_unique<QueueWorker>(std::move(*queue), policy_, options, mode_,
                                                     lines, decision_log_.get(), clock_));
    if (auto flows = handed.flows.find(number); flows != handed.flows.end()) {
      std::vector<HandedFlow> handed_flows =
          read_handed_flows(flows->second, options.conntrack.max_entries);
      // Connections kept through a block (--keep-established) stay out of the kernel's copy.
      for (const HandedFlow& h : handed_flows) {
        if (!h.flow.outlives_block) continue;
        const IpAddress& remote = h.flow.outbound ? h.flow.key.dst : h.flow.key.src;
        spared_.push_back({remote, static_cast<std::uint8_t>(remote.size() * 8)});
      }
      const std::size_t taken = workers_.back()->take_over(std::move(handed_flows));
      handed.flows.erase(flows);
      say("queue " + std::to_string(number) + ": took over " + std::to_string(taken) +
          " tracked connection(s)");
    }
  }
  for (const auto& [number, fd] : handed.flows) close(fd);
  std::vector<QueueWorker*> peers;
  for (auto& w : workers_) peers.push_back(w.get());
  for (auto& w : workers_) w->set_peers(peers);
  for (auto& w : workers_) w->start();
  for (const auto& [number, fd] : inherited) close(fd);  // queues no longer configured
  if (!inherited.empty()) say("queues handed over but no longer configured were closed");

  std::string fallback;
  diversion_ = choose_diversion(cfg.daemon.backend, spec, &fallback);
  if (!fallback.empty()) say("backend auto: using iptables: " + fallback);
  if (auto ok = diversion_->install(spec); !ok) {
    return std::unexpected(std::string(diversion_->name()) + ": " + ok.error());
  }
  diversion_installed_ = true;
  spec_ = spec;
  if (const std::string problem = diversion_->block_set_problem(); problem.empty()) {
    std::lock_guard<std::mutex> lock(mirror_mutex_);
    mirroring_ = true;
    mirror_.forget();  // install() made the set empty
    plan_blocks_locked();
    say("blocked sources are dropped in the kernel (" + std::to_string(mirror_.held(clock_.now())) +
        " block(s) copied)");
  } else if (spec.block_set_size) {
    std::lock_guard<std::mutex> lock(mirror_mutex_);
    kernel_block_problem_ = problem;
    say("blocked sources are dropped by portwalld, not in the kernel: " + problem);
  }
  // The forwarding switches an earlier run turned on (handed over by a re-exec, or left by a
  // crash: the marker file) are still portwalld's, and so is dropping the routed traffic the
  // forwards do not carry: in place in the same transaction that replaces the earlier run's
  // forwards, so that there is no moment without it.
  const std::array<bool, 2> marked = read_forwarding_marker();
  for (std::size_t i = 0; i < 2; ++i) {
    forwarding_turned_on_[i] = handed.forwarding_ours[i] || marked[i];
  }
  spec.forwards = policy_->rule_set().forwards;
  spec.route_queue = policy_->rule_set().judges_routed();
  // Ports Docker published before portwalld started are judged from the first packet on.
  const PublishedScan published = scan_published_rules();
  note_published(published.ports);
  spec.published_queue =
      !published.ports.empty() || published.docker_user[0] || published.docker_user[1];
  if (std::string_view(diversion_->name()) == "iptables") spec.docker_user = published.docker_user;
  spec.routed_deny = forwarding_turned_on_;
  // Forwards the kernel refuses do not keep the firewall from starting: said, and in status.
  spec_ = spec;
  if (auto ok = diversion_->set_forwards(spec); !ok) {
    set_forwarding_problem("the forwards' NAT rules were refused, none is installed: " +
                           ok.error());
    say(forwarding_problem());
    drop_forwards();  // the earlier run's go too, after the forwarding it turned on
  }
  follow_forwards();
  say(std::string("diverting to queue(s) ") + std::to_string(spec.queues.front()) +
      (spec.queues.size() > 1 ? "-" + std::to_string(spec.queues.back()) : "") + " with " +
      diversion_->name() + ", " + std::to_string(rule_count) + " rule(s)");

  // Marks left by an earlier run are cleared; the ctnetlink request also loads the kernel's
  // ctnetlink, without which the queue ignores the connmark a verdict carries.
  bring_back_offloaded("start");
  follow_crowdsec(cfg.crowdsec);
  control_ =
      std::make_unique<ControlService>(ControlSetup{.live = *this,
                                                    .audit = *audit_log_,
                                                    .clock = clock_,
                                                    .say = say,
                                                    .sources = sources_,
                                                    .blocks = blocks_,
                                                    .paths = paths_,
                                                    .started = loaded_.config,
                                                    .sources_in_force = std::move(loaded_.sources),
                                                    .own_uid = geteuid(),
                                                    .audit_uid = static_cast<long>(getuid()),
                                                    .admin_gid = admin_gid,
                                                    .read_gid = read_gid});
  control_server_->serve(
      [this](const nlohmann::json& r, const Peer& p) { return control_->handle(r, p); });
  audit_log_->record(static_cast<long>(getuid()), "start", "ok",
                     std::to_string(rule_count) + " rules from " + settings()->rules_file);
  if (!rolled_back_at_start_.empty()) {
    audit_log_->record(static_cast<long>(getuid()), "apply-rollback",
                       rollback_at_start_failed_ ? "failed" : "ok", rolled_back_at_start_);
  }
  return {};
}

void Daemon::shutdown() {
  control_server_.reset();
  stop_crowdsec();
  // Remove the diversion first: packets then stop coming rather than meeting a closed queue.
  {
    std::lock_guard<std::mutex> lock(mirror_mutex_);
    mirroring_ = false;  // the set goes with the diversion
  }
  if (diversion_installed_) {
    // Forwarding off first (when portwalld turned it on), then the rules that drop what it
    // would route: never the other way round.
    std::lock_guard<std::mutex> lock(routing_mutex_);
    release_forwarding({});
    if (auto ok = diversion_->remove(); !ok) say("removing diversion rules: " + ok.error());
    diversion_installed_ = false;
  }
  for (auto& w : workers_) w->stop();
  workers_.clear();
  if (blocks_) save_defense_state(true);
  decision_log_.reset();
}

void Daemon::stop_crowdsec() {
  std::unique_ptr<CrowdSecLink> old;
  {
    std::lock_guard<std::mutex> lock(crowdsec_mutex_);
    old = std::move(crowdsec_);
  }
}

void Daemon::follow_crowdsec(const CrowdSecSection& config) {
  std::unique_ptr<CrowdSecLink> old;
  {
    std::lock_guard<std::mutex> lock(crowdsec_mutex_);
    if (crowdsec_ && crowdsec_->config() == config) return;
    old = std::move(crowdsec_);
  }
  old.reset();  // stops its thread, outside the lock that status takes
  if (!config.enabled()) {
    if (blocks_ && blocks_->feed_size() > 0) {
      const FeedApplied lifted = blocks_->apply_feed({}, {}, true, clock_.now());
      say("crowdsec: off, its " + std::to_string(lifted.removed) + " block(s) lifted");
    }
    return;
  }
  if (config.lapi_url.starts_with("http://") && !config.lapi_url.starts_with("http://127.") &&
      !config.lapi_url.starts_with("http://localhost") &&
      !config.lapi_url.starts_with("http://[::1]")) {
    say("crowdsec: " + config.lapi_url + " is plain http to another host: the bouncer's key" +
        (config.source() ? std::string(" and the machine's password cross")
                         : std::string(" crosses")) +
        " the network in clear, and whoever stands in the path can forge decisions; use "
        "https:// (the LAPI's tls: cert_file, key_file)");
  }
  auto link = std::make_unique<CrowdSecLink>(config, blocks_, clock_, *audit_log_, say);
  say("crowdsec: pulling decisions from " + config.lapi_url + " every " +
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(config.interval).count()) +
      "s" + (config.source() ? ", pushing scan blocks as machine " + config.login : ""));
  std::lock_guard<std::mutex> lock(crowdsec_mutex_);
  crowdsec_ = std::move(link);
}

std::optional<CrowdSecFigures> Daemon::crowdsec_figures() const {
  std::lock_guard<std::mutex> lock(crowdsec_mutex_);
  if (!crowdsec_) return std::nullopt;
  return crowdsec_->figures();
}

void Daemon::reloading(bool begins) {
  if (!begins) malloc_trim(0);  // hand the old policy's pages back to the system
  sd_notify(0, begins ? "RELOADING=1" : "READY=1");
}

void Daemon::set_mode(Mode next) {
  std::shared_ptr<const PolicySnapshot> policy;
  {
    std::lock_guard<std::mutex> lock(policy_mutex_);
    mode_ = next;
    policy = policy_;
  }
  // Monitor mode lets blocked sources through too: the kernel's copy of the blocks empties
  // before the queue threads let them through, and fills again after they enforce.
  if (next == Mode::monitor && blocks_) follow_blocks(std::nullopt);
  for (auto& w : workers_) w->set_policy(policy, next);
  if (next == Mode::enforce && blocks_) follow_blocks(std::nullopt);
}

std::expected<std::size_t, std::string> Daemon::end_kernel_entries(std::span<const FlowKey> cut) {
  return delete_conntrack_entries(cut);
}

std::expected<void, std::string> Daemon::install(LoadedPolicy fresh, Mode mode) {
  for (const std::string& note : fresh.notes) say(note);
  if (const auto keys = keys_needing_restart(loaded_.config, fresh.config); !keys.empty()) {
    std::string list;
    for (const std::string& k : keys) list += (list.empty() ? "" : ", ") + k;
    say("reload: " + list + " changed; that takes effect at the next restart");
  }
  // The forwards' NAT rules first: if the kernel refuses them, nothing changes (the old ones
  // are put back), as for a broken file.
  std::unique_lock<std::mutex> routing(routing_mutex_);  // spec_ and the forward chain
  const std::vector<Forward>& forwards = fresh.rules.forwards;
  auto same_forwards = [](const std::vector<Forward>& a, const std::vector<Forward>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), same_forward);
  };
  // Routed traffic is queued from the first `route` rule (or a routed default) on, and no
  // longer once none is left: the forward chain changes with it.
  const bool route_queue = fresh.rules.judges_routed();
  const bool forwards_changed =
      !same_forwards(forwards, spec_.forwards) || route_queue != spec_.route_queue;
  bool forwards_installed = false;
  if (forwards_changed) {
    // Forwarding the new forwards no longer need goes off before their rules change.
    release_forwarding(forwards);
    DiversionSpec next_spec = spec_;
    next_spec.forwards = forwards;
    next_spec.route_queue = route_queue;
    if (auto ok = diversion_->set_forwards(next_spec); !ok) {
      const std::string why = "the forwards' NAT rules were refused: " + ok.error();
      // The forwards in force stay, and so does everything else, as for a broken file. If they
      // were not in force either (refused at start, or lost), the rest of the change goes on.
      if (same_forwards(spec_.forwards, snapshot()->rule_set().forwards)) {
        if (auto back = diversion_->set_forwards(spec_); !back) {
          drop_forwards();
          set_forwarding_problem("the forwards could not be put back, none is installed: " +
                                 back.error());
          say(forwarding_problem());
        } else {
          follow_forwards();  // what release_forwarding() turned off, on again
        }
        return std::unexpected(why);
      }
      drop_forwards();
      set_forwarding_problem(why + "; none is installed");
      say(forwarding_problem());
    } else {
      spec_ = std::move(next_spec);
      forwards_installed = true;
    }
  }
  routing.unlock();
  const std::shared_ptr<const PolicySnapshot> previous = snapshot();
  auto built = std::make_shared<PolicySnapshot>(std::move(fresh.rules), previous.get());
  built->inherit_hits(*previous);
  std::shared_ptr<const PolicySnapshot> next = std::move(built);
  {
    std::lock_guard<std::mutex> lock(policy_mutex_);
    policy_ = next;
    // Rule changes edit, and apply writes, the file the live rules now come from.
    settings_ = std::make_shared<const LiveSettings>(LiveSettings::of(fresh));
    mode_ = mode;
  }
  decision_log_->set_format(fresh.config.log.format);
  audit_log_->set_format(fresh.config.log.format);
  sources_->configure(source_policy_of(fresh.config));
  blocks_->set_scan_rate(fresh.config.scan_detection.new_blocks_per_second);
  follow_crowdsec(fresh.config.crowdsec);
  trust_infrastructure();
  // The kernel's copy of the blocks follows the mode and the exemptions: emptied before the
  // queue threads go to monitor mode, filled after they enforce.
  if (mode == Mode::monitor) follow_blocks(std::nullopt);
  for (auto& w : workers_) w->set_policy(next, mode);
  if (mode == Mode::enforce) follow_blocks(std::nullopt);
  if (forwards_installed) {
    std::lock_guard<std::mutex> lock(routing_mutex_);  // follow_forwards() writes spec_
    say(std::to_string(spec_.forwards.size()) + " forward(s) installed");
    follow_forwards();
  }
  return {};
}

namespace {

bool needs_forwarding(const std::vector<Forward>& forwards, Family family) {
  return std::any_of(forwards.begin(), forwards.end(), [&](const Forward& f) {
    return f.to_address && f.to_address->family == family;
  });
}

const char* forwarding_switch(Family family) {
  return family == Family::ipv4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding";
}

// The kernel's id of this boot: a marker from an earlier boot is void (forwarding starts off).
std::string boot_id() {
  auto read = read_file("/proc/sys/kernel/random/boot_id", false);
  if (!read) return "";
  return without_line_end(std::move(read->text));
}

}  // namespace

std::string Daemon::forwarding_marker_path() const {
  const std::string& state = loaded_.config.daemon.state_file;
  return state.empty() ? std::string() : state + ".forwarding";
}

std::array<bool, 2> Daemon::read_forwarding_marker() const {
  std::array<bool, 2> ours{};
  const std::string path = forwarding_marker_path();
  if (path.empty()) return ours;
  auto read = read_file(path);
  if (!read) return ours;
  std::istringstream in(read->text);
  std::string id, family;
  if (!(in >> id) || id != boot_id()) return ours;
  while (in >> family) {
    if (family == "ipv4") ours[0] = true;
    if (family == "ipv6") ours[1] = true;
  }
  return ours;
}

void Daemon::write_forwarding_marker() {
  const std::string path = forwarding_marker_path();
  if (path.empty()) return;
  std::error_code ec;
  if (!forwarding_turned_on_[0] && !forwarding_turned_on_[1]) {
    std::filesystem::remove(path, ec);
    return;
  }
  std::string text = boot_id();
  if (forwarding_turned_on_[0]) text += " ipv4";
  if (forwarding_turned_on_[1]) text += " ipv6";
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (auto ok = write_file_atomically(path, text + "\n"); !ok) {
    say("cannot write " + path + " (a crash would leave forwarding on, unowned): " + ok.error());
  }
}

bool Daemon::release_forwarding(const std::vector<Forward>& next) {
  bool changed = false;
  for (Family family : {Family::ipv4, Family::ipv6}) {
    const std::size_t i = family == Family::ipv4 ? 0 : 1;
    if (!forwarding_turned_on_[i] || needs_forwarding(next, family)) continue;
    if (auto ok = write_ip_forwarding(family, false); !ok) {
      // Still on: the rule that drops other routed traffic stays with it.
      say(ok.error() + "; other routed traffic stays dropped");
      continue;
    }
    say(std::string(forwarding_switch(family)) +
        " back to 0 (portwalld had turned it on for a forward)");
    forwarding_turned_on_[i] = false;
    spec_.routed_deny[i] = false;
    changed = true;
  }
  if (changed) write_forwarding_marker();
  return changed;
}

void Daemon::drop_forwards() {
  release_forwarding({});
  spec_.forwards.clear();
  (void)diversion_->set_forwards(spec_);
}

void Daemon::follow_forwards() {
  std::string problem;
  auto add_problem = [&](const std::string& p) {
    problem += (problem.empty() ? "" : "; ") + p;
    say(p);
  };
  // What the forwards no longer need goes off first; its drop rule then goes.
  if (release_forwarding(spec_.forwards)) (void)diversion_->set_forwards(spec_);
  for (Family family : {Family::ipv4, Family::ipv6}) {
    const std::size_t i = family == Family::ipv4 ? 0 : 1;
    const char* name = forwarding_switch(family);
    if (!needs_forwarding(spec_.forwards, family)) continue;
    // On already: portwalld's (its drop in place), or the host routes by its administrator's
    // choice. Off although portwalld's: turned off behind its back, turned on again below.
    auto on = read_ip_forwarding(family);
    if (on && *on) continue;
    if (family == Family::ipv6) {
      // Not turned on here: with forwarding on, the kernel ignores router advertisements
      // (unless accept_ra = 2), and a host configured by SLAAC would lose its default route.
      add_problem(std::string(name) +
                  " is 0: forwards to IPv6 hosts need it on (set accept_ra = 2 on the uplink "
                  "first if this host takes its address from router advertisements)");
      continue;
    }
    // Routed packets the forwards do not carry are dropped from before forwarding is on: the
    // host must not become an open router (its FORWARD policy is usually ACCEPT).
    spec_.routed_deny[i] = true;
    if (auto ok = diversion_->set_forwards(spec_); !ok) {
      spec_.routed_deny[i] = false;
      add_problem(std::string(name) +
                  " left at 0: the rule that drops other routed traffic was "
                  "refused (" +
                  ok.error() + ")");
      continue;
    }
    if (auto ok = write_ip_forwarding(family, true); !ok) {
      spec_.routed_deny[i] = false;
      (void)diversion_->set_forwards(spec_);
      add_problem(std::string(name) + " is 0 and could not be turned on (" + ok.error() +
                  "): forwards to other hosts need sysctl " + name + "=1");
      continue;
    }
    forwarding_turned_on_[i] = true;
    write_forwarding_marker();
    say(std::string(name) +
        " turned on for the forwards to other hosts; other routed traffic is dropped");
  }
  set_forwarding_problem(problem);
}

int Daemon::run() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT}) sigaddset(&signals, s);
  sigaddset(&signals, SIGPIPE);
  // Blocked before any thread starts, so that only this thread takes them (sigtimedwait).
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // An apply never confirmed (portwalld stopped or crashed meanwhile) is undone before the
  // rules load: its rules may be why they would not. The configuration alone names the file.
  auto config = load_config(paths_.config);
  if (config) {
    rolled_back_at_start_ = roll_back_unconfirmed_at_start(
        paths_.rules_override.empty() ? config->daemon.rules : paths_.rules_override,
        &rollback_at_start_failed_);
    if (!rolled_back_at_start_.empty()) say(rolled_back_at_start_);
  }
  auto loaded = load_policy(paths_);
  if (!loaded) {
    say(loaded.error());
    // A rollback done is in the audit trail even though the start goes no further.
    if (!rolled_back_at_start_.empty()) {
      if (auto audit =
              AuditLog::open(config->log.audit_file, config->log.format, config->log.target);
          audit) {
        (*audit)->record(static_cast<long>(getuid()), "apply-rollback",
                         rollback_at_start_failed_ ? "failed" : "ok",
                         rolled_back_at_start_ + "; the start then failed: " + loaded.error());
      }
    }
    return 78;  // EX_CONFIG: systemd's RestartPreventExitStatus keeps this from looping
  }
  for (const std::string& note : loaded->notes) say(note);
  loaded_ = std::move(*loaded);
  if (const std::string lockout = refuse_first_start_lockout(); !lockout.empty()) {
    say("not started: " + lockout);
    if (auto audit = AuditLog::open(loaded_.config.log.audit_file, loaded_.config.log.format,
                                    loaded_.config.log.target);
        audit) {
      (*audit)->record(static_cast<long>(getuid()), "start", "refused", lockout);
    }
    return 78;  // EX_CONFIG: the rules are what is wrong; no restart loop
  }
  if (auto ok = start(); !ok) {
    say("cannot start: " + ok.error());
    shutdown();
    return 1;
  }
  sd_notify(0, "READY=1");
  say("ready; control socket " + loaded_.config.daemon.socket);
  first_start_done();
  arm_enable_confirmation();

  std::string stop_reason = "signal";
  for (;;) {
    timespec tick{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) (void)control_->reload(static_cast<long>(getuid()), "reload(SIGHUP)");
    if (sig == SIGUSR1) {
      decision_log_->reopen();
      audit_log_->reopen();
    }
    if (sig == SIGUSR2) {
      if (reexec() > 0) {
        shutdown();
        return 1;
      }
    }
    if (enable_expired()) {
      stop_reason = "the enable was not confirmed";
      break;
    }
    keep_defenses();
    keep_published();
    control_->keep_confirmation();
    keep_metrics_file();
    bool failed = false;
    for (auto& w : workers_) {
      if (w->failed()) {
        say("queue " + std::to_string(w->queue_number()) + " failed: " + w->failure());
        failed = true;
      }
    }
    if (failed) {
      shutdown();
      return 1;
    }
  }
  sd_notify(0, "STOPPING=1");
  if (control_->apply_pending()) {
    say("an apply was not confirmed: its rules roll back when portwalld starts again");
  }
  audit_log_->record(static_cast<long>(getuid()), "stop", "ok", stop_reason);
  shutdown();
  say("stopped; diversion rules removed");
  return 0;
}

}  // namespace portwall
