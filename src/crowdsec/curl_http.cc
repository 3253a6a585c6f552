// curl_http.cc — HttpClient over libcurl's easy interface, one handle per client (one thread).
#include <curl/curl.h>

#include <mutex>

#include "crowdsec/http_client.h"

namespace portwall {
namespace {

class CurlHttp final : public HttpClient {
 public:
  CurlHttp(std::string ca_file, HttpLimits limits, std::stop_token stop)
      : ca_file_(std::move(ca_file)), limits_(limits), stop_(std::move(stop)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    handle_ = curl_easy_init();
  }
  ~CurlHttp() override {
    if (handle_) curl_easy_cleanup(handle_);
  }

  std::expected<HttpAnswer, std::string> get(const std::string& url,
                                             const std::vector<std::string>& headers) override {
    return perform(url, headers, nullptr);
  }
  std::expected<HttpAnswer, std::string> post(const std::string& url,
                                              const std::vector<std::string>& headers,
                                              const std::string& body) override {
    return perform(url, headers, &body);
  }

 private:
  struct Sink {
    std::string* body;
    std::size_t max;
    bool too_big = false;
  };
  static std::size_t take(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    const std::size_t n = size * count;
    if (sink->body->size() + n > sink->max) {
      sink->too_big = true;
      return 0;  // ends the transfer
    }
    sink->body->append(data, n);
    return n;
  }

  static int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::stop_token*>(user)->stop_requested() ? 1 : 0;
  }

  std::expected<HttpAnswer, std::string> perform(const std::string& url,
                                                 const std::vector<std::string>& headers,
                                                 const std::string* body) {
    if (!handle_) return std::unexpected(std::string("libcurl could not make a handle"));
    CURL* h = handle_;
    curl_easy_reset(h);
    curl_slist* list = nullptr;
    for (const std::string& header : headers) list = curl_slist_append(list, header.c_str());
    if (body) list = curl_slist_append(list, "Content-Type: application/json");
    HttpAnswer answer;
    Sink sink{&answer.body, limits_.max_answer_bytes};
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(duration_cast<milliseconds>(limits_.timeout).count()));
    curl_easy_setopt(
        h, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(duration_cast<milliseconds>(limits_.connect_timeout).count()));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ca_file_.empty()) {
      // CAINFO names the CA file; the system's store stays trusted through CAPATH.
      curl_easy_setopt(h, CURLOPT_CAINFO, ca_file_.c_str());
      curl_easy_setopt(h, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
    // NAME/VERSION, as the LAPI demands of a machine's login ("bad user agent": refused).
    curl_easy_setopt(h, CURLOPT_USERAGENT, "portwall/" PORTWALL_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CurlHttp::take);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &CurlHttp::progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &stop_);
    if (body) {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    const CURLcode code = curl_easy_perform(h);
    curl_slist_free_all(list);
    if (sink.too_big) {
      return std::unexpected("the answer of " + url + " is larger than " +
                             std::to_string(limits_.max_answer_bytes >> 20) + " MiB");
    }
    if (code != CURLE_OK) return std::unexpected(std::string(curl_easy_strerror(code)));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer.status);
    if (char* peer = nullptr;
        curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &peer) == CURLE_OK && peer) {
      answer.peer = peer;
    }
    return answer;
  }

  std::string ca_file_;
  HttpLimits limits_;
  std::stop_token stop_;
  CURL* handle_ = nullptr;
};

}  // namespace

std::unique_ptr<HttpClient> curl_http(const std::string& ca_file, HttpLimits limits,
                                      std::stop_token stop) {
  return std::make_unique<CurlHttp>(ca_file, limits, std::move(stop));
}

}  // namespace portwall
