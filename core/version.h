// version.h — focalgrad's version, written in this one place: the Makefile reads
// FOCALGRAD_VERSION from here for focalgrad.pc and the CMake package config, and every
// example prints it in --help. FOCALGRAD_VERSION is the version of the headers a program was
// compiled with; version() is the version of the library it was linked with, so a program
// can tell the two apart. Not here: build flags or a git revision.
#pragma once

#define FOCALGRAD_VERSION_MAJOR 0
#define FOCALGRAD_VERSION_MINOR 1
#define FOCALGRAD_VERSION_PATCH 0
#define FOCALGRAD_VERSION "0.1.0"  // "MAJOR.MINOR.PATCH" (tests/test_version.cpp holds them equal)

namespace focalgrad {

const char* version();  // FOCALGRAD_VERSION of the library as it was built, e.g. "0.1.0"

}  // namespace focalgrad
