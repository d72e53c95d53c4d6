-- The page's script saving the score: POST /f/<token> with a JSON answer, random tokens.
-- Arguments: <tokens file with views> <origin>
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local tokens
function init(args)
  tokens = read_lines(args[1])
  math.randomseed(id * 104729 + os.time())
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["Origin"] = args[2]
  wrk.headers["Sec-Fetch-Site"] = "same-origin"
  wrk.headers["User-Agent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) " ..
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
end

-- Each line: a token and the signed view of its page, as the page's script posts them.
local body = '{"score":9,"lang":"de","view":"%s","signals":{"interacted":true,"dwell_ms":2400}}'
function request()
  local token, view = tokens[math.random(#tokens)]:match("(%S+) (%S+)")
  return wrk.format(nil, "/f/" .. token, nil, string.format(body, view))
end
