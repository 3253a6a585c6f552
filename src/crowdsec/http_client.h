// http_client.h — the HTTP a CrowdSec Local API is spoken with, as a seam: the bouncer and the
// source are tested with a fake, portwalld uses libcurl (curl_http). Requests are bounded in
// time and in the size of the answer, follow no redirect, and speak only http and https, with
// the server's certificate verified (a CA file adds to the system's).
#pragma once

#include <expected>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "clock/clock.h"

namespace portwall {

struct HttpAnswer {
  long status = 0;
  std::string body;
  std::string peer;  // the address the answer came from ("" when unknown)
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // `headers`: "Name: value" lines. An error is a transport failure (no answer at all); an
  // answer with any status is returned as it is.
  virtual std::expected<HttpAnswer, std::string> get(const std::string& url,
                                                     const std::vector<std::string>& headers) = 0;
  virtual std::expected<HttpAnswer, std::string> post(const std::string& url,
                                                      const std::vector<std::string>& headers,
                                                      const std::string& body) = 0;
};

struct HttpLimits {
  Duration timeout = std::chrono::seconds(30);
  Duration connect_timeout = std::chrono::seconds(5);
  std::size_t max_answer_bytes = std::size_t{512} << 20;
};

// libcurl. `ca_file`: a CA certificate (PEM) trusted besides the system's; "" for none. A
// request in flight ends (as an error) soon after `stop` is requested.
std::unique_ptr<HttpClient> curl_http(const std::string& ca_file, HttpLimits limits = {},
                                      std::stop_token stop = {});

}  // namespace portwall
