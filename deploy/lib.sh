# Shared by deploy/up, deploy/down and deploy/test: settings and one function per step.
# Everything lives under $RUN_DIR; servers are stopped by their PID files only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${RUN_DIR:-$ROOT/.run}
HTTPS_PORT=${HTTPS_PORT:-8443}
HTTP_PORT=${HTTP_PORT:-8080}
LISTEN_ADDRESS=${LISTEN_ADDRESS:-127.0.0.1}
SERVER_NAME=${SERVER_NAME:-localhost}
WORKERS=${WORKERS:-$(( $(nproc) > 2 ? $(nproc) : 2 ))}
THREADS=${THREADS:-8}
MAX_BODY_BYTES=${MAX_BODY_BYTES:-65536}
METRICS_ADDRESS=${METRICS_ADDRESS:-127.0.0.1:9464}  # Prometheus scrapes here; loopback only
# Requests per second per client address: customers' changes (bookings, cancellations,
# reschedules) and admin calls; 0 turns a limit off (the load kit and the race tests).
RATE_LIMIT=${RATE_LIMIT:-5}
ADMIN_RATE_LIMIT=${ADMIN_RATE_LIMIT:-20}
# Started by root, each server runs as a system user of its own (as another user, all as that
# user): the FastCGI workers, nginx, and PostgreSQL. See make_run_dir for who may reach what.
SERVICE_USER=${SERVICE_USER:-booking}
WEB_USER=${WEB_USER:-booking-web}
DB_USER=${DB_USER:-booking-db}
BUILD_CONFIGURATION=${BUILD_CONFIGURATION:-release}

PG_DIR=$RUN_DIR/postgres
NGINX_DIR=$RUN_DIR/nginx
SOCKET_DIR=$RUN_DIR/socket
SOCKET=$SOCKET_DIR/booking.sock
# nginx's upstream servers: this host's socket, or one "server host:port;" per application host.
FASTCGI_SERVERS=${FASTCGI_SERVERS:-server unix:$SOCKET;}
LARGE_BODY_DIR=${LARGE_BODY_DIR:-$RUN_DIR/large-bodies}
PUBLISH_DIR=${PUBLISH_DIR:-$RUN_DIR/published}
APP_PID=$RUN_DIR/booking-server.pid
LOG_DIR=$RUN_DIR/log
LOG_MAX_BYTES=${LOG_MAX_BYTES:-10485760}  # each log of the run-time folder, and one older copy
database_url_given=${DATABASE_URL:+yes}
DATABASE_URL=${DATABASE_URL:-postgresql:///booking?host=$PG_DIR&user=$SERVICE_USER}
export DATABASE_URL

step() { printf '==> %s\n' "$*"; }

# Debian packages the service needs to build and run. PostgreSQL is the server package alone,
# without Debian's own cluster (15/main on port 5432, which the service never uses): the
# service runs a private cluster of its own (start_postgres).
install_packages() {
    local wanted=(libfcgi-dev libpq-dev libcurl4-openssl-dev zlib1g-dev postgresql-15 nginx-light openssl pkg-config curl ca-certificates)
    local missing=()
    for package in "${wanted[@]}"; do
        if [ "$package" = nginx-light ] && command -v nginx >/dev/null; then continue; fi
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    step "installing ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || { echo "run as root to install packages, or install: ${missing[*]}" >&2; exit 1; }
    if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
        mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false  # written by the booking service's deploy/lib.sh" \
            >/etc/postgresql-common/createcluster.d/booking-no-main-cluster.conf
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    step "installed ${missing[*]}: PostgreSQL without a cluster of Debian's own (the service runs its own)"
}

# As root, the servers run as unprivileged system users, made here if missing (initdb refuses
# root); otherwise as the caller.
prepare_user() {
    caller_users
    [ "$(id -u)" -eq 0 ] || return 0
    local user dir
    for user in $(printf '%s\n' "$SERVICE_USER" "$WEB_USER" "$DB_USER" | sort -u); do
        if ! id "$user" >/dev/null 2>&1; then
            step "creating system user $user"
            useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
        fi
        # Each must be able to reach the repository (static files, binaries, run-time folder).
        dir=$ROOT
        while [ "$dir" != / ]; do
            if ! setpriv --reuid="$user" --regid="$user" --clear-groups test -x "$dir"; then
                step "allowing $user to traverse $dir (chmod o+x)"
                chmod o+x "$dir"
            fi
            dir=$(dirname "$dir")
        done
    done
}

# Not root: every server runs as the caller.
caller_users() {
    [ "$(id -u)" -ne 0 ] || return 0
    SERVICE_USER=$(id -un) WEB_USER=$(id -un) DB_USER=$(id -un)
    [ -n "$database_url_given" ] || DATABASE_URL="postgresql:///booking?host=$PG_DIR&user=$SERVICE_USER"
}

# PostgreSQL's user: its data folder's owner, who made the cluster and is its superuser role (a
# cluster made by an earlier version, which ran every server as one user, keeps that user).
pg_user() {
    if [ -d "$PG_DIR/data" ]; then stat -c %U "$PG_DIR/data"; else echo "$DB_USER"; fi
}

# Runs a command as the workers' user; setpriv execs it, so a background job's $! is its PID.
as_service_user() {
    if [ "$(id -u)" -eq 0 ]; then
        exec_as_service_user=(setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --init-groups)
    else
        exec_as_service_user=()
    fi
    "${exec_as_service_user[@]}" "$@"
}

# Runs a command as USER when root, else as the caller.
as_user() {
    local user=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then setpriv --reuid="$user" --regid="$user" --init-groups "$@"; else "$@"; fi
}
as_db_user() { as_user "$(pg_user)" "$@"; }
as_web_user() { as_user "$WEB_USER" "$@"; }

# Log files readable by their owner (the server that writes them) and its group only: they hold
# booking ids and addresses. Made before the server opens them (nginx would make 0644).
private_logs() {
    local owner=$1 file
    shift
    for file in "$@"; do
        [ -e "$file" ] || : >"$file"
        chmod 0640 "$file"
        if [ "$(id -u)" -eq 0 ]; then chown "$owner:$owner" "$file"; fi
    done
}

# The run-time folder. As root, each server's part is its own, and reachable only by who needs it:
# - socket/ (2750, the workers' user, nginx's group, setgid): the socket the workers make there
#   gets nginx's group, and its mode 0660 lets nginx connect and nobody else;
# - postgres/ (0750, PostgreSQL's user, the workers' group): the workers reach the database's
#   socket, nginx does not; data/ inside is PostgreSQL's alone (0700);
# - nginx/ and tls/ (0750, nginx's user): its configuration, logs, temporary files and key;
# - log/ and the folder itself (the workers' user): the workers make large-bodies/ and published/
#   (0755: nginx reads them).
make_run_dir() {
    if [ "$(id -u)" -ne 0 ]; then
        mkdir -p "$RUN_DIR" "$LOG_DIR" "$PG_DIR" "$NGINX_DIR/tmp" "$RUN_DIR/tls" "$SOCKET_DIR"
        chmod 0700 "$PG_DIR"
        return
    fi
    install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0755 "$RUN_DIR" "$LOG_DIR"
    install -d -o "$SERVICE_USER" -g "$WEB_USER" -m 2750 "$SOCKET_DIR"
    install -d -o "$(pg_user)" -g "$SERVICE_USER" -m 0750 "$PG_DIR"
    install -d -o "$WEB_USER" -g "$WEB_USER" -m 0750 "$NGINX_DIR" "$NGINX_DIR/tmp" "$RUN_DIR/tls"
}

build() {
    step "building ($BUILD_CONFIGURATION)"
    (cd "$ROOT" && swift build -c "$BUILD_CONFIGURATION" --product booking-server 2>&1 | tail -n 3 \
        && swift build -c "$BUILD_CONFIGURATION" --product bookingctl 2>&1 | tail -n 1)
    BIN_DIR=$(cd "$ROOT" && swift build -c "$BUILD_CONFIGURATION" --show-bin-path)
}

# Whether the booking server will choose PostgreSQL (the same rule as its StoreConfiguration).
uses_postgres() {
    case "${STORE_BACKEND:-}" in
        postgres) return 0 ;;
        firestore) return 1 ;;
    esac
    [ -z "${FIRESTORE_EMULATOR_HOST:-}" ] && [ -z "${GOOGLE_APPLICATION_CREDENTIALS:-}" ]
}

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    echo "$dir/$1"
}

postgres_running() {
    [ -f "$PG_DIR/data/postmaster.pid" ] && as_db_user "$(pg_bin pg_ctl)" status -D "$PG_DIR/data" >/dev/null 2>&1
}

# A private cluster, reachable only through a unix socket in its folder (see make_run_dir: the
# workers' group and PostgreSQL's user). Local connections are trusted, so the folder's mode is
# what keeps others out. The workers connect as a role of their user's name that owns the
# database booking and is no superuser (the cluster's superuser is PostgreSQL's user).
start_postgres() {
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
        step "initialising PostgreSQL in $PG_DIR/data"
        as_db_user "$(pg_bin initdb)" -D "$PG_DIR/data" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log"
    fi
    if postgres_running; then
        step "PostgreSQL is running"
    else
        step "starting PostgreSQL"
        private_logs "$(pg_user)" "$LOG_DIR/postgres.log"
        as_db_user "$(pg_bin pg_ctl)" start -D "$PG_DIR/data" -w -t 60 -l "$LOG_DIR/postgres.log" \
            -o "-c listen_addresses='' -c unix_socket_directories='$PG_DIR' -c max_connections=200" >/dev/null
    fi
    local superuser psql
    superuser=$(pg_user)
    psql=("$(pg_bin psql)" -h "$PG_DIR" -U "$superuser" -d postgres -qtA)
    as_db_user "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$SERVICE_USER'" | grep -q 1 \
        || as_db_user "$(pg_bin createuser)" -h "$PG_DIR" -U "$superuser" "$SERVICE_USER"
    as_db_user "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'booking'" | grep -q 1 \
        || as_db_user "$(pg_bin createdb)" -h "$PG_DIR" -U "$superuser" -O "$SERVICE_USER" booking
}

stop_postgres() {
    if postgres_running; then
        step "stopping PostgreSQL"
        as_db_user "$(pg_bin pg_ctl)" stop -D "$PG_DIR/data" -m fast -w >/dev/null
    fi
}

admin_token() {
    if [ -n "${ADMIN_TOKEN:-}" ]; then echo "$ADMIN_TOKEN"; return; fi
    if [ ! -s "$RUN_DIR/admin-token" ]; then
        (umask 077 && openssl rand -hex 24 >"$RUN_DIR/admin-token")
    fi
    cat "$RUN_DIR/admin-token"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops the process named in a PID file with SIGTERM (or $2) and waits for it to exit.
stop_pid() {
    local file=$1 signal=${2:-TERM} pid
    pid_alive "$file" || { rm -f "$file"; return 0; }
    pid=$(cat "$file")
    kill -s "$signal" "$pid"
    wait_until_gone kill -0 "$pid" 2>/dev/null || { echo "process $pid did not stop in 15 s" >&2; return 1; }
    rm -f "$file"
}

# Waits up to 15 s for the command (a check that a process is alive) to fail; fails if it never does.
wait_until_gone() {
    for _ in $(seq 1 150); do "$@" || return 0; sleep 0.1; done
    return 1
}

# Starts the FastCGI server in a process group of its own (setsid: the group's id is the PID in
# $APP_PID), so that stopping it reaches workers that outlived a supervisor killed outright. When
# one is running, the new one starts beside it and puts its socket at the path (renamed over the
# old one); the old one then stops, finishing what it has: no request fails in between.
start_app() {
    local previous=""
    if [ -f "$APP_PID" ] && server_alive "$(cat "$APP_PID")"; then
        previous=$(cat "$APP_PID")
        step "starting new FastCGI workers ($WORKERS processes x $THREADS threads) to replace the running ones"
    else
        step "starting the FastCGI workers ($WORKERS processes x $THREADS threads)"
    fi
    local token old_socket pid
    token=$(admin_token)
    old_socket=$(stat -c %i "$SOCKET" 2>/dev/null || true)
    private_logs "$SERVICE_USER" "$LOG_DIR/booking-server.log"
    (
        export FCGI_SOCKET=$SOCKET FCGI_SOCKET_MODE=0660 WORKERS THREADS MAX_BODY_BYTES LARGE_BODY_DIR PUBLISH_DIR ADMIN_TOKEN=$token METRICS_ADDRESS
        export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}  # glibc: fewer per-thread arenas holding freed memory
        # The booking page's address in emails' manage links: nginx's, unless given.
        export PUBLIC_URL=${PUBLIC_URL:-https://$SERVER_NAME$([ "$HTTPS_PORT" = 443 ] || echo ":$HTTPS_PORT")}
        as_service_user true
        setsid "${exec_as_service_user[@]}" "$BIN_DIR/booking-server" >>"$LOG_DIR/booking-server.log" 2>&1 </dev/null &
        echo $! >"$APP_PID"
    )
    pid=$(cat "$APP_PID")
    for _ in $(seq 1 300); do
        if [ -S "$SOCKET" ] && [ "$(stat -c %i "$SOCKET")" != "$old_socket" ]; then
            if [ -n "$previous" ]; then
                step "stopping the replaced FastCGI workers (process group $previous)"
                stop_server "$previous"
            fi
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the FastCGI server did not start; see $LOG_DIR/booking-server.log:" >&2
    tail -n 20 "$LOG_DIR/booking-server.log" >&2
    [ -z "$previous" ] || echo "$previous" >"$APP_PID"  # the running one goes on
    return 1
}

# Whether any process of the server started with PID (its process group) is running.
server_alive() { kill -0 -- "-$1" 2>/dev/null || kill -0 "$1" 2>/dev/null; }

# Stops the server started with PID: SIGTERM to its process group (the supervisor, its workers,
# and any worker whose supervisor was killed), then waits up to 15 s for all of them.
stop_server() {
    local pid=$1
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
    wait_until_gone server_alive "$pid" || { echo "the FastCGI server (process group $pid) did not stop in 15 s" >&2; return 1; }
}

# A self-signed certificate for local use, unless TLS_CERT and TLS_KEY name real ones. ECDSA
# P-256, as Mozilla recommends: its handshakes cost nginx a fraction of RSA-2048's, which decides
# how fast a crowd of new clients is served (Tests/e2e/test_overload.py).
tls_files() {
    TLS_CERT=${TLS_CERT:-$RUN_DIR/tls/cert.pem}
    TLS_KEY=${TLS_KEY:-$RUN_DIR/tls/key.pem}
    if [ ! -s "$TLS_CERT" ] || [ ! -s "$TLS_KEY" ]; then
        step "making a self-signed certificate for $SERVER_NAME"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=$SERVER_NAME" \
            -addext "subjectAltName=DNS:$SERVER_NAME,DNS:localhost,IP:127.0.0.1" \
            -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null
        if [ "$(id -u)" -eq 0 ]; then chown "$WEB_USER:$WEB_USER" "$TLS_KEY" "$TLS_CERT"; fi
        chmod 0600 "$TLS_KEY"
    fi
}

# The name servers of /etc/resolv.conf as nginx's resolver takes them (IPv6 in brackets), or the
# local stub resolver's address when it names none.
system_resolvers() {
    local servers
    servers=$(awk '$1 == "nameserver" { print ($2 ~ /:/ ? "[" $2 "]" : $2) }' /etc/resolv.conf 2>/dev/null | paste -sd ' ')
    echo "${servers:-127.0.0.53}"
}

render_nginx_config() {
    tls_files
    local substitutions=(
        -e "s|@NGINX_DIR@|$NGINX_DIR|g" -e "s|@FASTCGI_SERVERS@|$FASTCGI_SERVERS|g" -e "s|@HTTPS_PORT@|$HTTPS_PORT|g"
        -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@LISTEN_ADDRESS@|$LISTEN_ADDRESS|g" -e "s|@SERVER_NAME@|$SERVER_NAME|g"
        -e "s|@TLS_CERT@|$TLS_CERT|g" -e "s|@TLS_KEY@|$TLS_KEY|g" -e "s|@MAX_BODY_BYTES@|$MAX_BODY_BYTES|g"
        -e "s|@WWW_ROOT@|$ROOT/nginx/www|g" -e "s|@ERRORS_DIR@|$ROOT/nginx/errors|g" -e "s|@CONF_DIR@|$ROOT/nginx|g"
        -e "s|@LARGE_BODY_DIR@|$LARGE_BODY_DIR|g" -e "s|@PUBLISH_DIR@|$PUBLISH_DIR|g"
    )
    # OCSP stapling only for a certificate that names a responder (see booking-site.conf).
    if [ -n "$(openssl x509 -noout -ocsp_uri -in "$TLS_CERT" 2>/dev/null)" ]; then
        substitutions+=(-e "s|@TLS_TRUSTED_CERT@|${TLS_TRUSTED_CERT:-/etc/ssl/certs/ca-certificates.crt}|g"
                        -e "s|@RESOLVER@|${RESOLVER:-$(system_resolvers)}|g")
    else
        substitutions+=(-e '/^ *\(ssl_stapling\|ssl_stapling_verify\|ssl_trusted_certificate\|resolver\) /d')
    fi
    # A limit of 0 is no limit: the site without that zone's limit_req lines (nginx has no rate 0).
    local limit zone
    for limit in RATE_LIMIT:booking_customer_writes ADMIN_RATE_LIMIT:booking_admin_calls; do
        zone=${limit#*:} limit=${limit%%:*}
        [[ ${!limit} =~ ^[0-9]+$ ]] || { echo "$limit must be a whole number of requests per second (0: off)" >&2; return 2; }
        if [ "${!limit}" -eq 0 ]; then
            substitutions+=(-e "/zone=$zone[: ]/d")
        fi
        substitutions+=(-e "s|@$limit@|${!limit}|g" -e "s|@${limit%_LIMIT}_BURST@|$(( 2 * ${!limit} ))|g")
    done
    sed "${substitutions[@]}" "$ROOT/nginx/nginx.conf" >"$NGINX_DIR/nginx.conf"
    sed "${substitutions[@]}" -e "s|# @EXTRA_LOCATIONS@.*|${NGINX_EXTRA:-}|" "$ROOT/nginx/booking-site.conf" >"$NGINX_DIR/booking-site.conf"
}

start_nginx() {
    render_nginx_config
    local nginx=(nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log")
    private_logs "$WEB_USER" "$NGINX_DIR/access.log" "$NGINX_DIR/error.log"
    if pid_alive "$NGINX_DIR/nginx.pid" && [ "$(stat -c %U "/proc/$(cat "$NGINX_DIR/nginx.pid")")" != "$WEB_USER" ]; then
        step "stopping nginx, which runs as another user than $WEB_USER (started by an earlier version)"
        stop_nginx
    fi
    as_web_user "${nginx[@]}" -t -q
    if pid_alive "$NGINX_DIR/nginx.pid"; then
        step "reloading nginx"
        kill -HUP "$(cat "$NGINX_DIR/nginx.pid")"
    else
        step "starting nginx on https://$SERVER_NAME:$HTTPS_PORT/"
        as_web_user "${nginx[@]}"
    fi
}

stop_nginx() {
    if pid_alive "$NGINX_DIR/nginx.pid"; then
        step "stopping nginx"
        # Gracefully, so that requests in progress finish; a connection its client left half open
        # holds a worker until nginx's timeouts (a minute), so after 15 s nginx stops at once.
        stop_pid "$NGINX_DIR/nginx.pid" QUIT 2>/dev/null || stop_pid "$NGINX_DIR/nginx.pid" TERM
    fi
}

stop_app() {
    if [ -f "$APP_PID" ] && server_alive "$(cat "$APP_PID")"; then
        step "stopping the FastCGI workers"
        stop_server "$(cat "$APP_PID")"
    fi
    rm -f "$APP_PID"
}

wait_for_health() {
    for _ in $(seq 1 100); do
        curl -fsk "https://127.0.0.1:$HTTPS_PORT/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "https://127.0.0.1:$HTTPS_PORT/healthz did not answer" >&2
    return 1
}

# Keeps each log of the run-time folder (the workers', PostgreSQL's, nginx's) at most
# LOG_MAX_BYTES: a larger one is copied to <name>.1 (replacing the one before) and emptied in
# place, as logrotate's copytruncate does: the servers keep their files open and append (lines
# written between the copy and the emptying are lost; they are few).
rotate_logs() {
    local log
    for log in "$LOG_DIR"/*.log "$NGINX_DIR"/*.log; do
        [ -f "$log" ] && [ "$(stat -c %s "$log")" -gt "$LOG_MAX_BYTES" ] || continue
        cp -p "$log" "$log.1"
        truncate -s 0 "$log"
    done
}

# deploy/up's logs stay bounded while it runs: rotate_logs each minute, in a process of its own.
start_log_rotation() {
    stop_log_rotation
    (
        trap 'exit 0' TERM
        while :; do
            rotate_logs
            sleep 60 &
            wait $!
        done
    ) >/dev/null 2>&1 </dev/null &
    echo $! >"$RUN_DIR/log-rotation.pid"
}

stop_log_rotation() { stop_pid "$RUN_DIR/log-rotation.pid"; }
