-- The one-click link: GET <prefix><token>?s=9 for random tokens from a file.
-- Arguments: <tokens file> <path prefix>
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local tokens, prefix
function init(args)
  tokens, prefix = read_lines(args[1]), args[2]
  math.randomseed(id * 7919 + os.time())
  wrk.headers["User-Agent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) " ..
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
  wrk.headers["Accept-Language"] = "de-DE,de;q=0.9,en;q=0.5"
end

function request()
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", prefix .. token .. "?s=9")
end
