# Finds libaio (Debian: libaio-dev) and defines the imported target LibAio::LibAio.
find_path(LIBAIO_INCLUDE_DIR NAMES libaio.h)
find_library(LIBAIO_LIBRARY NAMES aio)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LibAio DEFAULT_MSG LIBAIO_LIBRARY LIBAIO_INCLUDE_DIR)
if(LibAio_FOUND AND NOT TARGET LibAio::LibAio)
  add_library(LibAio::LibAio UNKNOWN IMPORTED)
  set_target_properties(LibAio::LibAio PROPERTIES
    IMPORTED_LOCATION "${LIBAIO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LIBAIO_INCLUDE_DIR}")
endif()
mark_as_advanced(LIBAIO_INCLUDE_DIR LIBAIO_LIBRARY)
