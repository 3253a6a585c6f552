// published_keeping.cc — the ports other tools publish (Docker's `-p`), and where the forward
// chain hooks in: Docker writes its DNAT rules and re-creates its chains whenever it starts
// (after portwalld, at boot), so portwalld reads them every couple of seconds.
#include <algorithm>

#include "daemon/daemon.h"
#include "netfilter/diversion.h"

namespace portwall {

void Daemon::note_published(const std::vector<PublishedPort>& read) {
  // A port read once stays known for kPublishedLinger after it was last seen: Docker takes its
  // DNAT rules away when it stops and puts them back when it starts, and a connection meanwhile
  // must still be judged by the host's port, not by the container's.
  const Timestamp now = clock_.now();
  for (const PublishedPort& p : read) {
    auto seen = std::find_if(published_seen_.begin(), published_seen_.end(),
                             [&](const auto& s) { return s.first == p; });
    if (seen == published_seen_.end()) {
      published_seen_.emplace_back(p, now);
    } else {
      seen->second = now;
    }
  }
  std::erase_if(published_seen_, [&](const auto& s) { return now - s.second > kPublishedLinger; });
  std::vector<PublishedPort> ports;
  for (const auto& s : published_seen_) ports.push_back(s.first);
  const std::shared_ptr<const std::vector<PublishedPort>> before = published_->get();
  if (ports == *before) return;
  for (const PublishedPort& p : ports) {
    if (std::find(before->begin(), before->end(), p) == before->end()) {
      say("published by another tool: " + published_words(p) +
          "; judged as a connection to this host's port " + std::to_string(p.forward.port));
    }
  }
  for (const PublishedPort& p : *before) {
    if (std::find(ports.begin(), ports.end(), p) == ports.end()) {
      say("no longer published: " + published_words(p));
    }
  }
  published_->set(ports);
}

void Daemon::keep_published() {
  const Timestamp at = clock_.now();
  if (at - published_read_ < kPublishedEvery) return;
  published_read_ = at;
  PublishedScan scan = scan_published_rules();
  note_published(scan.ports);
  if (!diversion_installed_) return;
  std::lock_guard<std::mutex> lock(routing_mutex_);
  DiversionSpec next = spec_;
  // Once Docker's chains are there, DNAT'ed connections are queued even while it publishes
  // nothing (it is starting, or between two containers): never a moment unjudged.
  next.published_queue = !published_->get()->empty() || scan.docker_user[0] || scan.docker_user[1];
  // Only iptables' chains need DOCKER-USER: an nftables table sees every packet whatever
  // Docker's chains accept.
  if (std::string_view(diversion_->name()) == "iptables") next.docker_user = scan.docker_user;
  // Docker made DOCKER-USER, or something put a rule above the jump: where that family has a
  // forward chain at all (its forwards, or routed or published traffic queued).
  bool moved = false;
  for (std::size_t i = 0; i < 2; ++i) {
    const bool chain = next.route_queue || next.published_queue ||
                       std::ranges::any_of(next.forwards, [&](const Forward& f) {
                         return !f.to_address || (f.to_address->size() == 16) == (i == 1);
                       });
    moved = moved || (chain && next.docker_user[i] && !scan.jump_in_place[i]);
  }
  if (next.published_queue == spec_.published_queue && next.docker_user == spec_.docker_user &&
      !moved) {
    return;
  }
  if (auto ok = diversion_->set_forwards(next); !ok) {
    say("the forward chain could not follow the published ports: " + ok.error());
    return;
  }
  spec_ = next;
}

}  // namespace portwall
