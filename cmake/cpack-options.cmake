# Per generator (read by cpack): the Debian package installs under /usr,
# the tarball is a relocatable tree (bin/, libexec/, share/ at its top).
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
else()
  set(CPACK_PACKAGING_INSTALL_PREFIX /)
endif()
