# CtcfSanitizers.cmake — -DCTCF_SANITIZE=address;undefined builds the kernel with those sanitizers (debugging only).
set(CTCF_SANITIZE "" CACHE STRING "Semicolon list of sanitizers (address, undefined, leak)")
function(ctcf_sanitizers target)
  if(CTCF_SANITIZE)
    string(REPLACE ";" "," _list "${CTCF_SANITIZE}")
    target_compile_options(${target} PRIVATE -fsanitize=${_list} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${_list})
  endif()
endfunction()
