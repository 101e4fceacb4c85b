/*
  Etsy statsd (npm package `statsd`) receiving logwrap's --statsd pushes and writing them to
  Graphite's carbon-cache. Run: `statsd config.js` (or `node stats.js config.js`).
  statsd reads this file as a JavaScript object literal and re-reads it when it changes.
*/
{
  // Where logwrap sends: `logwrap --statsd udp://HOST:8125 ...`.
  port: 8125,
  address: "0.0.0.0",
  // The management console (`echo gauges | nc 127.0.0.1 8126`): keep it off the network.
  mgmt_address: "127.0.0.1",
  mgmt_port: 8126,

  backends: ["./backends/graphite"],
  graphiteHost: "127.0.0.1",
  graphitePort: 2003,
  graphite: {
    // stats.counters.<name>.count / .rate, stats.gauges.<name>, stats.timers.<name>.*:
    // storage-schemas.conf and storage-aggregation.conf beside this file match these names.
    legacyNamespace: false
  },

  // Milliseconds. Must equal the finest retention in storage-schemas.conf (10s): carbon keeps
  // one value per slot, so faster flushes would overwrite each other's counts.
  flushInterval: 10000,

  // Counters: an idle counter is sent as 0, which is the truth (nothing was shipped or dropped)
  // and keeps graphs and sums free of gaps. logwrap bounds its series (--metrics-max-series),
  // so the zeros stay cheap.
  deleteCounters: false,
  // Gauges: logwrap sends each gauge every --metrics-interval (10 s). A gauge not updated for
  // three flushes is deleted, so a stopped logwrap shows a gap, not its last buffer level forever.
  deleteGauges: true,
  gaugesMaxTTL: 3,
  // Timers: an interval without a delivery has no latency to report; send nothing.
  deleteTimers: true,

  percentThreshold: [90, 99]
}
