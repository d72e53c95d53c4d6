-- Each request a new resolved ServiceNow incident, as the business rule posts it.
-- Arguments: <bearer secret> (then the run's id, from wrk.py)
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local secret, tag
function init(args)
  secret, tag = args[1], args[#args] .. "-" .. id
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. secret
end

local n = 0
local template = [[{"sys_id":"%s","number":"INC%s","sys_class_name":"incident",]] ..
  [["short_description":"Printer on floor 3 does not print double-sided (bench)",]] ..
  [["description":"%s","state":"6","caller_id":{"value":"%s"},]] ..
  [["caller_id.email":"person%s@example.com","assignment_group":{"value":"287ebd7da9fe198100f92cc8d1d2154e",]] ..
  [["display_value":"Service Desk"},"assigned_to":{"value":"46d44a23a9fe19810012d100cca80666",]] ..
  [["display_value":"Beth Anglin"},"business_service":{"value":"27d32778c0a8000b00db970eeaa60f16",]] ..
  [["display_value":"Printing"},"category":"hardware","priority":"3","contact_type":"email",]] ..
  [["opened_at":"2026-11-20 08:15:00","resolved_at":"2026-11-21 16:02:33",]] ..
  [["sys_updated_on":"2026-11-21 16:02:34","close_code":"Solved (Permanently)",]] ..
  [["close_notes":"Replaced the duplex unit and printed a test page with the user."}]]
local filler = string.rep("The printer shows error 49 when printing on both sides. ", 22)

function request()
  n = n + 1
  local key = tag .. "-" .. n
  local body = string.format(template, key, key, filler, key, key)
  return wrk.format(nil, nil, nil, body)
end
