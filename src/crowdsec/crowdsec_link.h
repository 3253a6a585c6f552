// crowdsec_link.h — portwalld's thread for a CrowdSec Local API: the bouncer's pulls and, with
// machine credentials, the source's pushes, each at its own pace. Made from the [crowdsec]
// table; a reload with another table makes a new link (the old one stops first). Stopping ends
// a request in flight. figures() from any thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "crowdsec/alert_source.h"
#include "crowdsec/bouncer.h"

namespace portwall {

struct CrowdSecFigures {
  BouncerFigures bouncer;
  std::optional<SourceFigures> source;  // when [crowdsec] login is set
};

class CrowdSecLink {
 public:
  using Say = std::function<void(const std::string&)>;
  CrowdSecLink(const CrowdSecSection& config, std::shared_ptr<BlockList> blocks, const Clock& clock,
               AuditTrail& audit, Say say);
  ~CrowdSecLink();
  CrowdSecLink(const CrowdSecLink&) = delete;
  CrowdSecLink& operator=(const CrowdSecLink&) = delete;

  const CrowdSecSection& config() const { return config_; }
  CrowdSecFigures figures() const;

 private:
  void run(std::stop_token stop);

  CrowdSecSection config_;
  std::shared_ptr<BlockList> blocks_;
  const Clock* clock_;
  std::stop_source stopping_;
  std::unique_ptr<HttpClient> bouncer_http_, source_http_;
  std::unique_ptr<Bouncer> bouncer_;
  std::unique_ptr<AlertSource> source_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: it starts when everything above is made
};

}  // namespace portwall
