// queue_worker.h — one queue thread: its NFQUEUE socket, its Engine (and so its own connection
// table), its log rate limiter. Other threads talk to it through set_policy(), run_on_thread(),
// the published figures, and relate(): the one lock, taken once per batch, guards the table
// while this thread works on it, so that another queue's thread may look up the flow an ICMP
// error quotes in between (the kernel's queue-balance hash sends an error to any queue).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "audit/decision_log.h"
#include "audit/log_rate_limiter.h"
#include "clock/clock.h"
#include "config/config.h"
#include "netfilter/bypass_watch.h"
#include "netfilter/interface_names.h"
#include "netfilter/nfqueue.h"
#include "policy/engine.h"

namespace portwall {

class QueueWorker final : private PacketHandler {
 public:
  QueueWorker(std::unique_ptr<NfQueue> queue, std::shared_ptr<const PolicySnapshot> policy,
              EngineOptions options, Mode mode, std::uint32_t log_lines_per_second,
              DecisionLog* log, const Clock& clock);
  ~QueueWorker();  // stops and joins the thread

  void start();
  void stop();
  // A re-exec: the queue (NfQueue::release) and the tracked flows, REQUIRES stopped (the worker
  // is done then); in the new image, the flows taken over, REQUIRES not started yet.
  std::unique_ptr<NfQueue> take_queue() { return std::move(queue_); }
  std::vector<HandedFlow> hand_over() const { return engine_.hand_over(clock_.now()); }
  std::size_t take_over(const std::vector<HandedFlow>& flows) {
    return engine_.take_over(flows, clock_.now());
  }
  // The daemon's other queue workers, asked about the ICMP errors whose flow this thread's table
  // does not hold. Set before start(); every peer outlives this worker's thread.
  void set_peers(std::vector<QueueWorker*> peers) { peers_ = std::move(peers); }
  // Judges ICMP errors another queue received against this worker's flows: each entry of
  // `found` still empty is set when a flow here is the one its error quotes. Waits for this
  // thread's current batch to end (microseconds); callable from any thread.
  void relate(std::span<const PacketView> errors, std::span<std::optional<Decision>> found,
              Timestamp now) const;
  // Mid-stream connections are picked up again until `until` (Engine::open_pickup), from the
  // next batch on.
  void open_pickup(Timestamp until, std::shared_ptr<const LocalSockets> sockets);
  // Takes effect between two batches; connection state is kept.
  void set_policy(std::shared_ptr<const PolicySnapshot> policy, Mode mode);
  Figures figures() const { return engine_.counters().read(); }
  // Runs `task` on the queue thread between batches (within about 200 ms) and waits for it:
  // the only way other threads read or change this thread's connection and source tables.
  bool run_on_thread(std::function<void(Engine&, Timestamp)> task,
                     std::chrono::milliseconds wait = std::chrono::seconds(2));
  std::uint16_t queue_number() const { return queue_->number(); }
  // Set when the queue socket failed for good; the daemon then stops.
  bool failed() const { return failed_.load(); }
  std::string failure() const;

 private:
  void on_batch(bool full) override;
  PacketVerdict on_packet(const QueuedPacket& packet) override;
  void run();
  void take_pending_policy();
  void note_unseen_packets();
  void publish();
  LogEvent make_event(const QueuedPacket& q, const PacketView* p, const Decision& d,
                      Direction direction, std::string_view in, std::string_view out) const;

  // An ICMP error left to the other queues (Decision::ask_other_queues), settled after the
  // batch: its verdict is sent then (NFQUEUE allows it out of order).
  struct Deferred {
    QueuedPacket packet;  // without its payload
    PacketView view;
    Direction direction;
    std::string in, out;
  };
  void settle_deferred();
  void fail(std::string failure);

  std::unique_ptr<NfQueue> queue_;
  Engine engine_;
  // Held by this thread while it works on its table (a batch, the housekeeping between
  // batches), never while it waits for packets or asks a peer: no thread holds two.
  mutable std::mutex table_mutex_;
  std::unique_lock<std::mutex> batch_lock_{table_mutex_, std::defer_lock};
  std::vector<QueueWorker*> peers_;
  std::vector<Deferred> deferred_;
  std::atomic<Mode> mode_;
  LogRateLimiter limiter_;
  DecisionLog* log_;
  const Clock& clock_;
  InterfaceNames names_;
  Timestamp now_{};
  BypassWatch bypass_;
  Timestamp last_sweep_{};
  // Connection-table expiry: up to kSweepBudget nodes every kSweepEvery (100k nodes/s).
  static constexpr Duration kSweepEvery = std::chrono::milliseconds(10);
  static constexpr std::size_t kSweepBudget = 1024;
  // The queue's fill is read at most this often, and only while batches come full.
  static constexpr Duration kProbeEvery = std::chrono::milliseconds(100);
  // After a sign of packets gone by unseen, flows met within this are judged liberally.
  static constexpr Duration kUnseenForgiven = std::chrono::seconds(5);
  std::int64_t unix_now_seconds_ = 0;

  std::mutex pending_mutex_;
  std::shared_ptr<const PolicySnapshot> pending_;
  std::atomic<bool> has_pending_{false};
  std::optional<std::pair<Timestamp, std::shared_ptr<const LocalSockets>>> pending_pickup_;

  std::mutex tasks_mutex_;
  std::vector<
      std::pair<std::function<void(Engine&, Timestamp)>, std::shared_ptr<std::promise<void>>>>
      tasks_;
  std::atomic<bool> has_tasks_{false};
  void run_tasks();

  // Ends the thread's wait for packets at once: a policy, a pickup window or a task is waiting.
  void wake();
  int wake_fd_ = -1;  // eventfd

  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  mutable std::mutex failure_mutex_;
  std::string failure_;
  std::thread thread_;
};

}  // namespace portwall
