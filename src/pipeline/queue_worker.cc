#include "pipeline/queue_worker.h"

#include <linux/netfilter.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "netfilter/queue_stats.h"

namespace portwall {

QueueWorker::QueueWorker(std::unique_ptr<NfQueue> queue,
                         std::shared_ptr<const PolicySnapshot> policy, EngineOptions options,
                         Mode mode, std::uint32_t log_lines_per_second, DecisionLog* log,
                         const Clock& clock)
    : queue_(std::move(queue)),
      engine_(std::move(policy), options),
      mode_(mode),
      limiter_(log_lines_per_second),
      log_(log),
      clock_(clock),
      bypass_(queue_->options().fail_open ? queue_->options().max_length : 0, kProbeEvery,
              [number = queue_->number()]() -> std::optional<std::uint64_t> {
                auto stats = read_kernel_queue_stats();
                if (!stats) return std::nullopt;
                for (const KernelQueueStats& q : *stats) {
                  if (q.number == number) return q.waiting;
                }
                return std::nullopt;
              }) {
  engine_.set_monitor(mode == Mode::monitor);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

QueueWorker::~QueueWorker() {
  stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void QueueWorker::wake() {
  const std::uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
}

void QueueWorker::start() {
  thread_ = std::thread([this] { run(); });
}

void QueueWorker::stop() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
}

void QueueWorker::set_policy(std::shared_ptr<const PolicySnapshot> policy, Mode mode) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  pending_ = std::move(policy);
  mode_.store(mode);
  has_pending_.store(true, std::memory_order_release);
  wake();
}

void QueueWorker::open_pickup(Timestamp until, std::shared_ptr<const LocalSockets> sockets) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  pending_pickup_.emplace(until, std::move(sockets));
  has_pending_.store(true, std::memory_order_release);
  wake();
}

void QueueWorker::take_pending_policy() {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  if (pending_pickup_) {
    engine_.open_pickup(pending_pickup_->first, std::move(pending_pickup_->second));
    pending_pickup_.reset();
  }
  has_pending_.store(false, std::memory_order_relaxed);
  if (!pending_) return;  // only a pickup
  engine_.set_policy(std::move(pending_));
  engine_.set_monitor(mode_.load() == Mode::monitor);
  names_.clear();
}

std::string QueueWorker::failure() const {
  std::lock_guard<std::mutex> lock(failure_mutex_);
  return failure_;
}

void QueueWorker::publish() {
  const ConnTracker& ct = engine_.conntrack();
  Counters& counters = engine_.counters();
  counters.set(Counter::flows, ct.size());
  counters.set(Counter::evicted, ct.stats().evicted);
  counters.set(Counter::refused, ct.stats().refused);
  counters.set(Counter::expired, ct.stats().expired);
  counters.set(Counter::lost_messages, queue_->enobufs());
}

void QueueWorker::fail(std::string failure) {
  std::lock_guard<std::mutex> lock(failure_mutex_);
  failure_ = std::move(failure);
  failed_.store(true);
}

void QueueWorker::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    auto handled = queue_->process(*this, 200, wake_fd_);
    if (batch_lock_.owns_lock()) batch_lock_.unlock();  // taken by on_batch()
    if (!handled) return fail(handled.error());
    if (!deferred_.empty()) settle_deferred();
    if (failed_.load()) return;
    // Between batches: bounded housekeeping, never per packet.
    std::lock_guard<std::mutex> table(table_mutex_);
    if (has_tasks_.load(std::memory_order_acquire)) run_tasks();
    // Expiry sweeps on a clock, not per batch: under load batches are small, and a sweep per
    // batch walked cold table nodes for every few packets (the largest userspace cost in a
    // profile of a UDP flood). Expired flows met by a packet are dropped on lookup anyway.
    if (const Timestamp now = clock_.now(); now - last_sweep_ >= kSweepEvery) {
      engine_.conntrack().expire(now, kSweepBudget);
      last_sweep_ = now;
    }
    if (log_) log_->add_suppressed(limiter_.take_suppressed());
    publish();
  }
}

bool QueueWorker::run_on_thread(std::function<void(Engine&, Timestamp)> task,
                                std::chrono::milliseconds wait) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  {
    std::lock_guard<std::mutex> lock(tasks_mutex_);
    tasks_.emplace_back(std::move(task), std::move(done));
    has_tasks_.store(true, std::memory_order_release);
  }
  wake();
  return finished.wait_for(wait) == std::future_status::ready;
}

void QueueWorker::run_tasks() {
  // A task queued after set_policy() sees that policy (a recheck after a rule change).
  if (has_pending_.load(std::memory_order_acquire)) take_pending_policy();
  decltype(tasks_) tasks;
  {
    std::lock_guard<std::mutex> lock(tasks_mutex_);
    tasks.swap(tasks_);
    has_tasks_.store(false, std::memory_order_relaxed);
  }
  for (auto& [task, done] : tasks) {
    task(engine_, clock_.now());
    done->set_value();
  }
}

void QueueWorker::relate(std::span<const PacketView> errors,
                         std::span<std::optional<Decision>> found, Timestamp now) const {
  std::lock_guard<std::mutex> lock(table_mutex_);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (!found[i]) found[i] = engine_.related_decision(errors[i], now);
  }
}

void QueueWorker::settle_deferred() {
  std::vector<PacketView> errors;
  errors.reserve(deferred_.size());
  for (const Deferred& d : deferred_) errors.push_back(d.view);
  std::vector<std::optional<Decision>> found(errors.size());
  for (const QueueWorker* peer : peers_) {
    if (peer != this) peer->relate(errors, found, now_);
  }
  const bool monitor = mode_.load(std::memory_order_relaxed) == Mode::monitor;
  std::vector<DeferredVerdict> verdicts;
  verdicts.reserve(deferred_.size());
  for (std::size_t i = 0; i < deferred_.size(); ++i) {
    const Deferred& x = deferred_[i];
    const Decision d = engine_.settle_related(found[i]);
    if (d.log && log_ && limiter_.allow(now_)) {
      LogEvent event = make_event(x.packet, &x.view, d, x.direction, x.in, x.out);
      event.monitor = monitor;
      log_->submit(event);
    }
    verdicts.push_back({x.packet.id, x.packet.mark, monitor ? Verdict::accept : d.verdict});
  }
  deferred_.clear();
  if (auto sent = queue_->send_verdicts(verdicts); !sent) fail(sent.error());
}

void QueueWorker::on_batch(bool full) {
  batch_lock_.lock();  // released by run() when the batch's verdicts are sent
  if (has_pending_.load(std::memory_order_acquire)) take_pending_policy();
  now_ = clock_.now();
  unix_now_seconds_ = unix_now_ms() / 1000;
  if (bypass_.after_batch(now_, full)) note_unseen_packets();
}

// Packets may have gone by unseen (bypass_watch.h): flows' windows may be stale for a while.
void QueueWorker::note_unseen_packets() {
  engine_.conntrack().note_unseen_packets(now_ + kUnseenForgiven);
}

PacketVerdict QueueWorker::on_packet(const QueuedPacket& q) {
  if (bypass_.on_packet_id(q.id)) note_unseen_packets();
  // FORWARD: the connections of port forwards, which the engine orients (from the forward's
  // destination: outgoing), and routed traffic, which carries the routed mark. The log line
  // says the hook's direction.
  const std::uint32_t routed_mark = queue_->options().routed_mark;
  const bool routed = q.hook == NF_INET_FORWARD && routed_mark && (q.mark & routed_mark);
  const std::uint32_t published_mark = queue_->options().published_mark;
  const bool published =
      q.hook == NF_INET_FORWARD && published_mark && (q.mark & published_mark) && !routed;
  const Direction direction = routed                        ? Direction::route
                              : q.hook == NF_INET_LOCAL_OUT ? Direction::out
                                                            : Direction::in;
  const std::string_view in = names_.name(q.in_ifindex);
  const std::string_view out = names_.name(q.out_ifindex);
  auto parsed = parse_packet(q.payload, q.wire_length);
  Decision d;
  if (parsed) {
    PacketExtras extras;
    extras.unix_seconds = unix_now_seconds_;
    if (parsed->payload_offset < q.payload.size()) {
      extras.l4_payload = q.payload.subspan(
          parsed->payload_offset,
          std::min<std::size_t>(parsed->payload_length, q.payload.size() - parsed->payload_offset));
    }
    const std::uint32_t redirect_mark = queue_->options().redirect_mark;
    const bool redirected = redirect_mark && (q.mark & redirect_mark);
    d = engine_.decide(
        *parsed,
        HookInfo{direction, in, out, q.hook == NF_INET_FORWARD && !routed, redirected, published},
        now_, extras);
    if (d.ask_other_queues) {
      QueuedPacket kept = q;
      kept.payload = {};
      deferred_.push_back({kept, *parsed, direction, std::string(in), std::string(out)});
      return PacketVerdict::later();
    }
  } else {
    d = engine_.decide_malformed();
  }
  const bool monitor = mode_.load(std::memory_order_relaxed) == Mode::monitor;
  if (d.log && log_ && limiter_.allow(now_)) {
    LogEvent event = make_event(q, parsed ? &*parsed : nullptr, d, direction, in, out);
    event.monitor = monitor;
    log_->submit(event);
  }
  // Monitor mode: decide, count and log as in enforce mode, but let everything through.
  if (monitor) {
    if (d.verdict != Verdict::accept) {
      engine_.counters().add(Counter::monitor_passed);
    }
    PacketVerdict passed(Verdict::accept);
    passed.pass_on = routed || published;
    return passed;
  }
  PacketVerdict v(d.verdict, d.offload);
  v.pass_on = routed || published;  // accepts only (nfqueue.h)
  return v;
}

LogEvent QueueWorker::make_event(const QueuedPacket& q, const PacketView* p, const Decision& d,
                                 Direction direction, std::string_view in,
                                 std::string_view out) const {
  LogEvent e;
  e.unix_ms = unix_now_ms();
  e.decision = d;
  e.direction = direction;
  // string_view::copy, not memcpy: an unnamed interface is an empty view whose data() may be
  // null, and memcpy from null is undefined even for zero bytes (UBSan caught it).
  in.copy(e.in_interface, sizeof e.in_interface - 1);
  out.copy(e.out_interface, sizeof e.out_interface - 1);
  e.length = q.wire_length;
  if (!p) {
    e.malformed = true;
    return e;
  }
  e.src = p->src;
  e.dst = p->dst;
  e.protocol = p->protocol;
  e.src_port = p->src_port;
  e.dst_port = p->dst_port;
  e.tcp_flags = p->tcp_flags;
  e.icmp_type = p->icmp_type;
  e.icmp_code = p->icmp_code;
  e.length = p->ip_length;
  if (d.reason == Reason::knock || d.event == Event::knock_fail) {
    const std::string name = engine_.sources().door_name(d.door);
    name.copy(e.knock, sizeof e.knock - 1);
  }
  return e;
}

}  // namespace portwall
