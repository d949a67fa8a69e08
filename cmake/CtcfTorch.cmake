# CtcfTorch.cmake — locates LibTorch through its CMake config (Debian libtorch-dev, pip torch, or the official zip).
#
# Debian: apt-get install libtorch-dev (found without hints).
# pip torch:  -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
# LibTorch zip: -DCMAKE_PREFIX_PATH=/path/to/libtorch
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  message(FATAL_ERROR
    "LibTorch was not found. Install it (Debian: apt-get install libtorch-dev) or point CMake at one:\n"
    "  -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')\n"
    "  -DCMAKE_PREFIX_PATH=/path/to/libtorch   (the official zip)\n"
    "From Maven pass it as -Dcmake.args=\"-DCMAKE_PREFIX_PATH=...\".")
endif()
# Directory of libtorch*.so, used as the kernel's rpath.
set(CTCF_TORCH_LIBRARY_DIR "")
foreach(lib IN LISTS TORCH_LIBRARIES)
  if(TARGET ${lib})
    get_target_property(_loc ${lib} IMPORTED_LOCATION)
    if(NOT _loc)
      get_target_property(_loc ${lib} IMPORTED_LOCATION_RELEASE)
    endif()
    if(NOT _loc)
      get_target_property(_loc ${lib} IMPORTED_LOCATION_RELWITHDEBINFO)
    endif()
  else()
    set(_loc ${lib})
  endif()
  if(_loc AND EXISTS "${_loc}" AND NOT CTCF_TORCH_LIBRARY_DIR)
    get_filename_component(CTCF_TORCH_LIBRARY_DIR "${_loc}" DIRECTORY)
  endif()
endforeach()
message(STATUS "ctcf: LibTorch ${Torch_VERSION} from ${CTCF_TORCH_LIBRARY_DIR}")
# LibTorch's config adds its own flags (e.g. -D_GLIBCXX_USE_CXX11_ABI); keep them.
set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")
