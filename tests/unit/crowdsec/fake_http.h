// fake_http.h — an HttpClient that answers from a script and keeps what it was asked.
#pragma once

#include <deque>
#include <functional>

#include "crowdsec/http_client.h"

namespace portwall {

class FakeHttp final : public HttpClient {
 public:
  struct Request {
    std::string method, url, body;
    std::vector<std::string> headers;
  };
  // Answers by request; an unset answer is a transport error ("connection refused").
  std::function<std::expected<HttpAnswer, std::string>(const Request&)> answer;
  std::vector<Request> requests;

  std::expected<HttpAnswer, std::string> get(const std::string& url,
                                             const std::vector<std::string>& headers) override {
    return ask({"GET", url, "", headers});
  }
  std::expected<HttpAnswer, std::string> post(const std::string& url,
                                              const std::vector<std::string>& headers,
                                              const std::string& body) override {
    return ask({"POST", url, body, headers});
  }

 private:
  std::expected<HttpAnswer, std::string> ask(Request r) {
    requests.push_back(r);
    if (!answer) return std::unexpected(std::string("Couldn't connect to server"));
    return answer(requests.back());
  }
};

}  // namespace portwall
