-- Retrieves random entities among the 100,000 loaded by scripts/load-traffic-flow.py.
-- wrk -t2 -c32 -d10s --latency -s scripts/wrk-retrieve-random.lua http://127.0.0.1:8080
math.randomseed(os.time())
request = function()
  local id = "urn:ngsi-ld:TrafficFlowObserved:b" .. math.random(0, 99999)
  return wrk.format("GET", "/ngsi-ld/v1/entities/" .. id)
end
