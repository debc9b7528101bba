# Finds herald's dependencies. Every one comes from a Debian package; nothing is
# downloaded. A missing one stops CMake with the package to install.

include(GNUInstallDirs)

macro(herald_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "herald needs ${what}. On Debian: apt-get install ${package}"
                        " (or run scripts/setup.sh, which installs everything).")
  endif()
endmacro()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

# Standalone Asio has no CMake package: wrap asio.hpp in a target of ours.
find_path(HERALD_ASIO_INCLUDE_DIR asio.hpp)
herald_require(HERALD_ASIO_INCLUDE_DIR "standalone Asio (asio.hpp)" libasio-dev)
if(NOT TARGET herald_asio)
  add_library(herald_asio INTERFACE)
  set_target_properties(herald_asio PROPERTIES EXPORT_NAME asio)
  # clang 14 with libstdc++ does not detect coroutine support in Asio 1.22 by
  # itself; g++ does, and defining these twice is harmless.
  target_compile_definitions(herald_asio INTERFACE
    ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_HAS_CO_AWAIT ASIO_HAS_STD_COROUTINE)
  add_library(herald::asio ALIAS herald_asio)
endif()

# llhttp: a CMake package when the system has one, else the C sources that
# Debian's node-llhttp ships, compiled here into a static library.
find_package(llhttp CONFIG QUIET)
if(TARGET llhttp::llhttp_static OR TARGET llhttp::llhttp)
  if(TARGET llhttp::llhttp_static)
    set(_llhttp_target llhttp::llhttp_static)
  else()
    set(_llhttp_target llhttp::llhttp)
  endif()
  add_library(herald_llhttp INTERFACE)
  target_link_libraries(herald_llhttp INTERFACE ${_llhttp_target})
  add_library(herald::llhttp ALIAS herald_llhttp)
else()
  find_path(HERALD_LLHTTP_SRC_DIR llhttp.c PATHS /usr/share/llhttp NO_DEFAULT_PATH)
  find_path(HERALD_LLHTTP_INCLUDE_DIR llhttp.h PATHS /usr/share/include/llhttp /usr/include
            PATH_SUFFIXES llhttp)
  if(NOT HERALD_LLHTTP_SRC_DIR OR NOT HERALD_LLHTTP_INCLUDE_DIR)
    set(_llhttp_ok FALSE)
  else()
    set(_llhttp_ok TRUE)
  endif()
  herald_require(_llhttp_ok "llhttp (C sources in /usr/share/llhttp)" node-llhttp)
  if(NOT TARGET herald_llhttp_static)
    add_library(herald_llhttp_static STATIC
      ${HERALD_LLHTTP_SRC_DIR}/llhttp.c ${HERALD_LLHTTP_SRC_DIR}/api.c ${HERALD_LLHTTP_SRC_DIR}/http.c)
    set_target_properties(herald_llhttp_static PROPERTIES
      EXPORT_NAME llhttp POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden
      PUBLIC_HEADER ${HERALD_LLHTTP_INCLUDE_DIR}/llhttp.h)
    target_include_directories(herald_llhttp_static PUBLIC
      $<BUILD_INTERFACE:${HERALD_LLHTTP_INCLUDE_DIR}>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/herald/llhttp>)
    # llhttp's generated code is not ours to sanitize or warn about.
    target_compile_options(herald_llhttp_static PRIVATE -w -fno-sanitize=all)
    add_library(herald::llhttp ALIAS herald_llhttp_static)
  endif()
endif()

find_package(OpenSSL 3)
herald_require(OPENSSL_FOUND "OpenSSL 3" libssl-dev)
find_package(ZLIB)
herald_require(ZLIB_FOUND "zlib" zlib1g-dev)
find_package(SQLite3)
herald_require(SQLite3_FOUND "SQLite 3" libsqlite3-dev)
if(NOT TARGET SQLite::SQLite3)
  add_library(SQLite::SQLite3 UNKNOWN IMPORTED)
  set_target_properties(SQLite::SQLite3 PROPERTIES IMPORTED_LOCATION "${SQLite3_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SQLite3_INCLUDE_DIR}")
endif()
