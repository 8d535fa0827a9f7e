# Configures, builds and runs tests/consumer against temper one way; ctest runs it as `cmake -P`.
#   MODE              find_package (after `cmake --install` of TEMPER_BINARY_DIR), fetchcontent or subdirectory
#   TEMPER_SOURCE_DIR temper's source tree        TEMPER_BINARY_DIR  its build tree (find_package)
#   WORK_DIR          scratch directory, emptied first
#   GENERATOR, CXX    the generator and compiler of temper's own build
#   BUILD_TYPE        the consumer's CMAKE_BUILD_TYPE (empty: no optimisation flags)
#   CUDA              ON: also build consumer_cuda (plain C++ linked with temper::cuda) and run it on the GPU
cmake_minimum_required(VERSION 3.20)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "exit code ${rc}: ${cmd}")
  endif()
endfunction()

# The installed headers and kernels are exactly the source tree's.
function(check_installed prefix)
  file(GLOB_RECURSE want RELATIVE ${TEMPER_SOURCE_DIR}/include ${TEMPER_SOURCE_DIR}/include/temper/*)
  file(GLOB kernels RELATIVE ${TEMPER_SOURCE_DIR} ${TEMPER_SOURCE_DIR}/kernels/*.cuh)
  list(TRANSFORM kernels PREPEND temper/)
  list(APPEND want ${kernels})
  file(GLOB_RECURSE have RELATIVE ${prefix}/include ${prefix}/include/*)
  list(SORT want)
  list(SORT have)
  if(NOT want STREQUAL have)
    message(FATAL_ERROR "installed headers differ from the sources:\n  installed: ${have}\n  expected:  ${want}")
  endif()
  foreach(f share/cmake/temper/temperConfig.cmake share/cmake/temper/temperConfigVersion.cmake
            share/cmake/temper/temperTargets.cmake share/doc/temper/LICENSE share/doc/temper/THIRD_PARTY_NOTICES.md)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "not installed: ${prefix}/${f}")
    endif()
  endforeach()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(args -S ${TEMPER_SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build -G ${GENERATOR}
         -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
         -DTEMPER_CONSUME=${MODE} -DTEMPER_CONSUMER_CUDA=${CUDA})
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${TEMPER_BINARY_DIR} --prefix ${WORK_DIR}/prefix)
  check_installed(${WORK_DIR}/prefix)
  list(APPEND args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
else()
  list(APPEND args -DTEMPER_SOURCE_DIR=${TEMPER_SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} ${args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)

# The consumer's compile command carries none of temper's own flags (-march=native would make the
# consumer's binary crash on older CPUs).
file(READ ${WORK_DIR}/build/compile_commands.json commands)
if(commands MATCHES "-march=")
  message(FATAL_ERROR "-march= leaked into the consumer's compile command:\n${commands}")
endif()

run(${WORK_DIR}/build/consumer ${TEMPER_SOURCE_DIR}/tests/fixtures/examples ${WORK_DIR}/model)
if(CUDA)
  # Says "skipped: no CUDA GPU" and succeeds where there is none.
  run(${WORK_DIR}/build/consumer_cuda ${TEMPER_SOURCE_DIR}/tests/fixtures/examples ${WORK_DIR}/model_cuda cuda)
endif()
