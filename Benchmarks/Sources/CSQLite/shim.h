// Exposes the system SQLite header (libsqlite3-dev) to Swift through module.modulemap.
#ifndef JOURNAL_BENCH_CSQLITE_SHIM_H
#define JOURNAL_BENCH_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
