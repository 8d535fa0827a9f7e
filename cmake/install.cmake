# `cmake --install`: the headers, the CUDA kernels and a CMake package, so that another project can write
#   find_package(temper 0.1 CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE temper::temper)   # or temper::cuda for the GPU
# temper::temper is header-only; with the CUDA backend the package also holds the compiled temper::cuda library.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TEMPER_INSTALL_CMAKEDIR ${CMAKE_INSTALL_DATADIR}/cmake/temper)

# Every library target is exported as temper::<EXPORT_NAME>: temper -> temper::temper, temper_cuda -> temper::cuda,
# temper_blas -> temper::blas.
set(temper_export_targets temper)
if(TEMPER_WITH_CUDA)  # not the simulator build's temper_cuda, a test tool
  list(APPEND temper_export_targets temper_cuda)
  set(TEMPER_INSTALL_CUDA ON)
else()
  set(TEMPER_INSTALL_CUDA OFF)
endif()
if(TARGET temper_blas)
  list(APPEND temper_export_targets temper_blas)
  set(TEMPER_INSTALL_BLAS ON)
else()
  set(TEMPER_INSTALL_BLAS OFF)
endif()
install(TARGETS ${temper_export_targets} EXPORT temperTargets)
install(EXPORT temperTargets NAMESPACE temper:: DESTINATION ${TEMPER_INSTALL_CMAKEDIR})

# "include" must match the $<INSTALL_INTERFACE:include> in CMakeLists.txt, so it is spelled out rather than
# taken from CMAKE_INSTALL_INCLUDEDIR. The kernels go along for users who write their own CUDA kernels with
# kernels/common.cuh (as tests/cuda/test_kernel_dropout.cu does); temper::cuda itself is already compiled.
install(DIRECTORY include/temper DESTINATION include)
install(DIRECTORY kernels/ DESTINATION include/temper/kernels FILES_MATCHING PATTERN "*.cuh")
install(FILES LICENSE THIRD_PARTY_NOTICES.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

configure_package_config_file(cmake/temperConfig.cmake.in ${PROJECT_BINARY_DIR}/temperConfig.cmake
                              INSTALL_DESTINATION ${TEMPER_INSTALL_CMAKEDIR})
# 0.x: a minor release may change the API (semantic versioning), so find_package(temper 0.1) accepts 0.1.z
# only. From 1.0 on this becomes SameMajorVersion. ARCH_INDEPENDENT when header-only (a package installed by a
# 64-bit build serves a 32-bit consumer too), not with the compiled temper::cuda.
if(TEMPER_INSTALL_CUDA)
  set(temper_arch_independent)
else()
  set(temper_arch_independent ARCH_INDEPENDENT)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/temperConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion ${temper_arch_independent})
install(FILES ${PROJECT_BINARY_DIR}/temperConfig.cmake ${PROJECT_BINARY_DIR}/temperConfigVersion.cmake
        DESTINATION ${TEMPER_INSTALL_CMAKEDIR})
