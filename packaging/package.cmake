# package.cmake — where portwall's files go on a server, and its Debian package (CPack DEB;
# tools/package.sh). Layout as DESIGN.md "Files on a server"; configure with
# -DCMAKE_INSTALL_PREFIX=/usr for the package (then /etc and /var are the system's).
include(GNUInstallDirs)

find_program(SCDOC scdoc REQUIRED)
find_program(GZIP gzip REQUIRED)
pkg_get_variable(SYSTEMD_UNIT_DIR systemd systemdsystemunitdir)
if(NOT SYSTEMD_UNIT_DIR)
  set(SYSTEMD_UNIT_DIR /lib/systemd/system)  # Debian 12
endif()
pkg_get_variable(SYSTEMD_TMPFILES_DIR systemd tmpfilesdir)
if(NOT SYSTEMD_TMPFILES_DIR)
  set(SYSTEMD_TMPFILES_DIR /usr/lib/tmpfiles.d)  # Debian 12
endif()
set(PORTWALL_ETC ${CMAKE_INSTALL_FULL_SYSCONFDIR})

# Hardened binaries, as Debian builds them (lintian: hardening-no-bindnow, -no-fortify).
foreach(binary portwalld portwall)
  target_compile_options(${binary} PRIVATE -fstack-protector-strong -D_FORTIFY_SOURCE=2)
  target_link_options(${binary} PRIVATE -Wl,-z,relro -Wl,-z,now)
endforeach()

# Man pages from scdoc, and the changelog: built and compressed at build time (gzip -9n, so
# that two builds give the same bytes).
set(PACKAGED_DOCS)
file(GLOB MAN_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/packaging/man/*.scd)
foreach(source ${MAN_SOURCES})
  get_filename_component(page ${source} NAME_WLE)  # portwall.8
  string(REGEX MATCH "[0-9]$" section ${page})
  set(out ${CMAKE_BINARY_DIR}/man/${page})
  add_custom_command(OUTPUT ${out} ${out}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND sh -c "${SCDOC} < '${source}' > '${out}' && ${GZIP} -9n -c '${out}' > '${out}.gz'"
    DEPENDS ${source} VERBATIM)
  list(APPEND PACKAGED_DOCS ${out}.gz)
  install(FILES ${out}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
set(changelog ${CMAKE_BINARY_DIR}/changelog.gz)
add_custom_command(OUTPUT ${changelog}
  COMMAND sh -c "${GZIP} -9n -c '${CMAKE_SOURCE_DIR}/packaging/deb/changelog' > '${changelog}'"
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/deb/changelog VERBATIM)
list(APPEND PACKAGED_DOCS ${changelog})
add_custom_target(docs ALL DEPENDS ${PACKAGED_DOCS})

install(TARGETS portwalld portwall RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
# The configuration is a conffile; the rule set is not (the CLI rewrites it): the postinst
# copies it from the template in /usr/share/portwall when absent, as ufw does with user.rules.
install(FILES rules/portwall.toml DESTINATION ${PORTWALL_ETC}/portwall
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)  # root:portwall from the postinst
install(DIRECTORY DESTINATION ${PORTWALL_ETC}/portwall/rules.d)
install(FILES rules/default.toml DESTINATION ${CMAKE_INSTALL_DATADIR}/portwall RENAME rules.toml)
install(DIRECTORY rules/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/rules)
install(FILES packaging/systemd/portwall.service DESTINATION ${SYSTEMD_UNIT_DIR})
install(FILES packaging/tmpfiles/portwall.conf DESTINATION ${SYSTEMD_TMPFILES_DIR})
install(FILES packaging/logrotate/portwall DESTINATION ${PORTWALL_ETC}/logrotate.d)
install(FILES packaging/completion/portwall
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES packaging/fail2ban/filter.d/portwall.conf DESTINATION ${PORTWALL_ETC}/fail2ban/filter.d)
install(FILES packaging/fail2ban/action.d/portwall.conf DESTINATION ${PORTWALL_ETC}/fail2ban/action.d)
install(FILES packaging/fail2ban/jail.d/portwall.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/fail2ban/jail.d)
install(FILES packaging/deb/copyright ${changelog} DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES packaging/deb/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME portwall)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME portwall)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "The portwall authors <portwall@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "stateful port firewall daemon with a ufw-style command line")
set(CPACK_PACKAGE_DESCRIPTION "\
portwalld filters incoming and outgoing packets in userspace through NFQUEUE:
it tracks connections itself, matches ordered port and address rules, and
accepts, drops or rejects. The portwall command speaks ufw's grammar and
applies changes live. Scan detection with automatic blocking, port knocking,
per-source rate limits and a decision log that fail2ban reads come with it.
.
The service is enabled but not started on installation: review
/etc/portwall/rules.toml (ssh allowed, every other incoming port denied),
then start it.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iptables, ipset, passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "fail2ban, nftables")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/deb/conffiles ${CMAKE_SOURCE_DIR}/packaging/deb/postinst
  ${CMAKE_SOURCE_DIR}/packaging/deb/prerm ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
