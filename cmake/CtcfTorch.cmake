# CtcfTorch.cmake — locates LibTorch through its CMake config and makes sure every LibTorch library the kernel links
# comes from that one LibTorch.
#
# The scripts (.ci/env.sh) pass -DCMAKE_PREFIX_PATH=<torch> -DTorch_DIR=<torch>/share/cmake/Torch for the LibTorch
# they found (a torch wheel's torch/, the official zip's libtorch/). By hand:
#   -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
#   -DCMAKE_PREFIX_PATH=/path/to/libtorch   (the official zip)
set(CTCF_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}")
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  message(FATAL_ERROR
    "LibTorch was not found. Point CMake at one (./ctcf and tests/run find or fetch one themselves):\n"
    "  -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')\n"
    "  -DCMAKE_PREFIX_PATH=/path/to/libtorch   (the official zip)\n"
    "From Maven pass it as -Dcmake.args=\"-DCMAKE_PREFIX_PATH=...\".")
endif()
if(Torch_VERSION VERSION_LESS 2.0)
  message(WARNING "ctcf: LibTorch ${Torch_VERSION} is older than 2.0 and no longer supported (TorchScript files "
                  "saved by a current PyTorch may not load); use a LibTorch 2.x")
endif()

# TorchConfig finds some libraries with find_library(... PATHS <prefix>/lib), which searches the system folders
# first: with a Debian libtorch-dev installed beside a pip or zip LibTorch, c10 came from /usr/lib (1.13) and torch
# from the wheel (2.x), and the JVM aborted loading both. Take each such library from this LibTorch's lib/.
# The folder of this LibTorch's libraries: where its imported targets (Caffe2Targets, located relative to the
# config itself) point.
set(CTCF_TORCH_LIBRARY_DIR "")
foreach(tgt IN ITEMS torch_cpu torch c10)
  if(TARGET ${tgt} AND NOT CTCF_TORCH_LIBRARY_DIR)
    foreach(prop IN ITEMS IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION IMPORTED_LOCATION_RELWITHDEBINFO
                          IMPORTED_LOCATION_NONE)
      get_target_property(_loc ${tgt} ${prop})
      if(_loc AND EXISTS "${_loc}" AND NOT CTCF_TORCH_LIBRARY_DIR)
        get_filename_component(CTCF_TORCH_LIBRARY_DIR "${_loc}" DIRECTORY)
      endif()
    endforeach()
  endif()
endforeach()
if(NOT CTCF_TORCH_LIBRARY_DIR)
  set(CTCF_TORCH_LIBRARY_DIR "${TORCH_INSTALL_PREFIX}/lib")
endif()
set(_fixed "")
foreach(lib IN LISTS TORCH_LIBRARIES)
  if(NOT TARGET ${lib} AND IS_ABSOLUTE "${lib}")
    get_filename_component(_dir "${lib}" DIRECTORY)
    get_filename_component(_name "${lib}" NAME)
    if(NOT _dir STREQUAL CTCF_TORCH_LIBRARY_DIR)
      if(EXISTS "${CTCF_TORCH_LIBRARY_DIR}/${_name}")
        message(STATUS "ctcf: ${_name}: ${lib} replaced by this LibTorch's ${CTCF_TORCH_LIBRARY_DIR}/${_name}")
        set(lib "${CTCF_TORCH_LIBRARY_DIR}/${_name}")
      else()
        message(FATAL_ERROR "ctcf: LibTorch ${CTCF_TORCH_LIBRARY_DIR} wants ${lib}, which is not part of it "
                            "(a second LibTorch on this machine?). Point CMake at one complete LibTorch.")
      endif()
    endif()
  endif()
  list(APPEND _fixed "${lib}")
endforeach()
set(TORCH_LIBRARIES "${_fixed}")
message(STATUS "ctcf: LibTorch ${Torch_VERSION} from ${CTCF_TORCH_LIBRARY_DIR}")
# LibTorch's config adds its own flags (e.g. -D_GLIBCXX_USE_CXX11_ABI); keep them.
set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")

# After linking: every LibTorch library the kernel needs must resolve into CTCF_TORCH_LIBRARY_DIR.
function(ctcf_check_torch_links target)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:${target}> -DTORCH_LIB_DIR=${CTCF_TORCH_LIBRARY_DIR}
            -P ${CTCF_CMAKE_DIR}/CtcfCheckTorchLinks.cmake
    VERBATIM)
endfunction()
