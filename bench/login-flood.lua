-- wrk script: wrong-password logins against mcpguard's /login form.
-- FLOOD_CSRF and FLOOD_COOKIE are the form's CSRF token and session cookie; with
-- FLOOD_SPREAD=1 every request claims another client address (X-Forwarded-For, which
-- mcpguard believes from a trusted peer) and another account, the worst case for the
-- lockouts: every attempt costs a bcrypt check.
local csrf = os.getenv("FLOOD_CSRF")
local cookie = os.getenv("FLOOD_COOKIE")
local spread = os.getenv("FLOOD_SPREAD") == "1"
local n = 0
request = function()
  n = n + 1
  local email = "demo@example.com"
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookie}
  if spread then
    email = "guess" .. n .. "@example.com"
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  end
  local body = "csrf=" .. csrf .. "&email=" .. email .. "&password=wrong-password"
  return wrk.format("POST", "/login", headers, body)
end
