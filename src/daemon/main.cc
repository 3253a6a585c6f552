// main.cc — portwalld's command line (DESIGN.md "The daemon"):
//   portwalld --config FILE [--rules FILE] [--socket PATH] [--check]
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "daemon/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"portwalld: stateful port firewall daemon (NFQUEUE)", "portwalld"};
  portwall::DaemonPaths paths;
  paths.config = "/etc/portwall/portwall.toml";
  bool check = false;
  app.add_option("--config", paths.config, "configuration file")->capture_default_str();
  app.add_option("--rules", paths.rules_override, "rules file (overrides [daemon] rules)");
  app.add_option("--socket", paths.socket_override, "control socket (overrides [daemon] socket)");
  app.add_flag("--check", check, "validate the configuration and rules, then exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (check) {
    auto loaded = portwall::load_policy(paths);
    if (!loaded) {
      std::fprintf(stderr, "%s\n", loaded.error().c_str());
      return 1;
    }
    for (const std::string& note : loaded->notes) std::fprintf(stderr, "NOTE: %s\n", note.c_str());
    std::printf("%s: ok, %zu rule(s) from %s\n", paths.config.c_str(), loaded->rules.rules.size(),
                loaded->rules_file.c_str());
    return 0;
  }
  // Blocks of 1 MiB and more (the rules, a status answer, a file read whole) are mapped by
  // themselves and go back to the system when freed. By default glibc raises this threshold to
  // the size of the first such block freed and from then on keeps them in its heaps, where,
  // freed, they stayed in portwalld's memory (at 100,000 rules: 55 MiB after the start, 47
  // with this).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  portwall::Daemon daemon(paths, std::vector<std::string>(argv, argv + argc));
  return daemon.run();
}
