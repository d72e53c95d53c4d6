-- Baseline A: the same bodies as ingest.lua, posted to /a.
dofile(os.getenv("BENCH_LUA_DIR") .. "/ingest.lua")
