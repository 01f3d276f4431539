# A libtorrent peer for tests: seeds or leeches one torrent on loopback and
# prints status lines (READY port=N, PROGRESS f, DONE) on stdout.
import sys, time, argparse
import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument("--torrent", required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--seed", action="store_true")
ap.add_argument("--upload-rate", type=int, default=0)
ap.add_argument("--connect", action="append", default=[])
ap.add_argument("--tracker", action="store_true", help="announce to the torrent's tracker")
ap.add_argument("--encryption", choices=["default", "forced"], default="default",
                help="forced: MSE with RC4 only, both ways; no plain connections")
a = ap.parse_args()

s = lt.session({
    "listen_interfaces": "127.0.0.1:%d" % a.port,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "allow_multiple_connections_per_ip": True,
    "upload_rate_limit": a.upload_rate,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
})
# libtorrent's default (pe_enabled, both levels) tries MSE first on
# outgoing connections and accepts both; forced refuses anything but RC4.
if a.encryption == "forced":
    s.apply_settings({
        "out_enc_policy": int(lt.enc_policy.pe_forced),
        "in_enc_policy": int(lt.enc_policy.pe_forced),
        "allowed_enc_level": int(lt.enc_level.rc4),
        "prefer_rc4": True,
    })
# Loopback peers are "local" and exempt from rate limits unless they are
# put in the global peer class.
if a.upload_rate:
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    s.set_peer_class_filter(f)
ti = lt.torrent_info(a.torrent)
params = lt.add_torrent_params()
params.ti = ti
params.save_path = a.dir
h = s.add_torrent(params)
if not a.tracker:
    h.replace_trackers([])

def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

# Wait for the check of existing data.
while h.status().state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
    time.sleep(0.05)
st = h.status()
if a.seed and not st.is_seeding:
    emit("ERROR seeder data incomplete: progress %.3f" % st.progress)
    sys.exit(1)
emit("READY port=%d" % s.listen_port())

def connect():
    for p in a.connect:
        host, port = p.rsplit(":", 1)
        h.connect_peer((host, int(port)))

connect()
last = 0
done = False
while True:
    st = h.status()
    if not a.seed:
        if st.is_seeding and not done:
            done = True
            emit("DONE")
        now = time.time()
        if now - last > 0.2:
            emit("PROGRESS %.4f peers=%d" % (st.progress, st.num_peers))
            last = now
            if st.num_peers == 0 and not done:
                connect()  # libtorrent does not retry a failed connect by itself
    for al in s.pop_alerts():
        if isinstance(al, lt.torrent_error_alert) or isinstance(al, lt.file_error_alert):
            emit("ERROR " + al.message())
    time.sleep(0.05)
