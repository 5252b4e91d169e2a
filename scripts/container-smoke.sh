#!/usr/bin/env bash
# The real containers, end to end: build both images, bring up docker-compose.prod.yml under a
# throwaway project, wait for every service's health check, run a client's whole flow from this
# host (token, recommendation computed by the model, long-poll, signed webhook, feedback applied),
# check the web image has no torch, then bring up docker-compose.dev.yml and check it is healthy
# and answers /healthz. Everything the run created is removed at the end, on failure and on
# SIGINT/SIGTERM/SIGHUP too; a run killed outright (SIGKILL) is cleaned up by the next one.
#
#   scripts/container-smoke.sh               # prod, then dev
#   SMOKE_STACKS=prod scripts/container-smoke.sh
#
# Engines: docker + `docker compose` when a Docker daemon answers, otherwise podman +
# podman-compose (on PATH, or in $STANDINS_STATE/venv/bin); CONTAINER_ENGINE=docker|podman
# chooses. On podman the builds use $STANDINS_STATE/build-flags when it exists
# (../shared/containers/standins.sh writes it; default state /var/tmp/standins).
#
# Nothing is published but on 127.0.0.1, on free high ports: the host's PostgreSQL (5432) and
# Redis (6379) are never touched; the stack has its own, on its own network. Secrets are
# generated for the run. WEBHOOK_ALLOWED_HOSTS lets the SSRF guard accept this host's address on
# the stack's network (the webhook receiver), for this run only: it is set in a compose override
# written to a temporary directory, with the published ports (`!override` replaces the files'
# ports: docker compose 2.24.4 or newer, podman-compose 1.1 or newer).
#
# Other settings: TORCH_INDEX_URL (build argument of Dockerfile.worker; see build_args),
# PYTHON (a host interpreter with `standardwebhooks`; default .venv/bin/python), SMOKE_KEEP_LOGS=1
# (print every command's output, not only a failed one's).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

IMAGE_TAG=smoke
PROJECT_PREFIX=recsvc-smoke
PROJECT="$PROJECT_PREFIX-$$-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
STACKS=${SMOKE_STACKS:-prod,dev}
STANDINS_STATE=${STANDINS_STATE:-/var/tmp/standins}
MODEL_VERSION=smoke-1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$PROJECT.XXXXXX") # logs and the compose overrides
STARTED_PROJECTS=()
PHASES=()
CURRENT_PHASE=""
CHILD=""
RUN_START=${EPOCHREALTIME/./}

log() { printf '%s\n' "$*"; }
fail() {
    log "container-smoke: FAILED${CURRENT_PHASE:+ in \"$CURRENT_PHASE\"}: $*" >&2
    exit 1
}

# --- timing and commands ------------------------------------------------------------------

seconds_since() { # START (microseconds): "12.3"
    local ms=$(((${EPOCHREALTIME/./} - $1) / 1000))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# `phase NAME COMMAND...`: one timed step. A failure inside it (set -e, or `fail`) ends the run,
# and the cleanup records the step as failed.
phase() {
    CURRENT_PHASE=$1
    PHASE_START=${EPOCHREALTIME/./}
    shift
    log "== $CURRENT_PHASE"
    "$@"
    phase_record ok
}

phase_record() { # RESULT
    local took
    took=$(seconds_since "$PHASE_START")
    PHASES+=("$(printf '%-58s %7s s  %s' "$CURRENT_PHASE" "$took" "$1")")
    log "   $1 ($took s)"
    CURRENT_PHASE=""
}

# `quiet LABEL COMMAND...`: run in the background (so a signal is handled at once), output to a
# log that is shown only if the command fails.
quiet() {
    local label=$1 out rc=0
    shift
    out="$WORK/$(printf '%s' "$label" | tr -c 'a-zA-Z0-9' '_').log"
    "$@" >"$out" 2>&1 &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=""
    if ((rc != 0)) || [ "${SMOKE_KEEP_LOGS:-0}" = 1 ]; then
        log "   --- $label: $* (exit $rc), last lines:"
        tail -n 40 "$out" | sed 's/^/   | /'
    fi
    return "$rc"
}

timings() {
    local line
    log ""
    log "container-smoke: timings ($ENGINE)"
    for line in "${PHASES[@]}"; do log "  $line"; done
    log "  $(printf '%-58s %7s s' total "$(seconds_since "$RUN_START")")"
}

# --- engine ---------------------------------------------------------------------------------

engine_detect() {
    local choice=${CONTAINER_ENGINE:-}
    if [ -z "$choice" ]; then
        if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
            choice=docker
        elif command -v podman >/dev/null; then
            choice=podman
        else
            fail "neither a Docker daemon (docker info) nor podman answers; on a machine without either run ../shared/containers/standins.sh"
        fi
    fi
    ENGINE=$choice
    BUILD_FLAGS=()
    case "$ENGINE" in
    docker)
        COMPOSE=(docker compose)
        ;;
    podman)
        if command -v podman-compose >/dev/null; then
            COMPOSE=(podman-compose)
        elif [ -x "$STANDINS_STATE/venv/bin/podman-compose" ]; then
            COMPOSE=("$STANDINS_STATE/venv/bin/podman-compose")
        else
            fail "podman-compose not found on PATH nor in $STANDINS_STATE/venv/bin (run ../shared/containers/standins.sh)"
        fi
        if [ -f "$STANDINS_STATE/build-flags" ]; then
            mapfile -t BUILD_FLAGS <"$STANDINS_STATE/build-flags"
        fi
        ;;
    *) fail "CONTAINER_ENGINE must be docker or podman, not '$ENGINE'" ;;
    esac
    log "engine: $ENGINE ($("$ENGINE" --version)); compose: ${COMPOSE[*]}; project $PROJECT"
}

# Dockerfile.worker's TORCH_INDEX_URL: production's index unless told otherwise. With the
# stand-ins' pip configuration, the CPU wheel is already found locally (find-links), so the
# index pip itself uses here serves torch's dependencies and the unreachable PyTorch index is
# skipped instead of retried for ~50 s.
build_args() {
    BUILD_ARGS=()
    local index=${TORCH_INDEX_URL:-} torch dir conf="$STANDINS_STATE/pip/pip.conf"
    if [ -z "$index" ] && [ "$ENGINE" = podman ] && ((${#BUILD_FLAGS[@]})) && [ -f "$conf" ]; then
        torch=$(sed -n 's/^torch==//p' requirements/worker.txt)
        # shellcheck disable=SC2013 # words, not lines: find-links is a space-separated list of directories
        for dir in $(sed -n 's/^find-links = //p' "$conf"); do
            if [ -n "$torch" ] && compgen -G "$dir/torch-$torch+cpu-*.whl" >/dev/null; then
                index=$(sed -n 's/^index-url = //p' "$conf" | awk '{print $1}')
                index=${index:-https://pypi.org/simple}
            fi
        done
    fi
    if [ -n "$index" ]; then
        BUILD_ARGS=(--build-arg "TORCH_INDEX_URL=$index")
        log "torch from: $index (TORCH_INDEX_URL)"
    fi
}

image_build() { # NAME DOCKERFILE [ARGS...]
    local name=$1 dockerfile=$2
    shift 2
    quiet "build $name" "$ENGINE" build "${BUILD_FLAGS[@]}" "$@" -f "$dockerfile" -t "$name:$IMAGE_TAG" .
}

# --- the project's containers ---------------------------------------------------------------

LABEL=com.docker.compose.project

project_compose() { # PROJECT FILE ARGS...: compose with the run's override
    local project=$1 file=$2
    shift 2
    "${COMPOSE[@]}" -p "$project" -f "$file" -f "$WORK/$project.override.yml" "$@"
}

container_of() { # PROJECT SERVICE
    "$ENGINE" ps -aq --filter "label=$LABEL=$1" --filter "label=com.docker.compose.service=$2" | head -n 1
}

# Removes what a project left: its containers (killed at once, with their anonymous volumes),
# then its named volumes and networks, found by the label both compose tools set.
project_remove() {
    local project=$1 ids
    ids=$("$ENGINE" ps -aq --filter "label=$LABEL=$project")
    if [ -n "$ids" ]; then
        if [ "$ENGINE" = podman ]; then
            # shellcheck disable=SC2086
            podman rm -f -v -t 0 $ids >/dev/null 2>&1 || true
        else
            # shellcheck disable=SC2086
            docker rm -f -v $ids >/dev/null 2>&1 || true
        fi
    fi
    ids=$("$ENGINE" volume ls -q --filter "label=$LABEL=$project")
    # shellcheck disable=SC2086
    [ -z "$ids" ] || "$ENGINE" volume rm -f $ids >/dev/null 2>&1 || true
    ids=$("$ENGINE" network ls -q --filter "label=$LABEL=$project")
    # shellcheck disable=SC2086
    [ -z "$ids" ] || "$ENGINE" network rm $ids >/dev/null 2>&1 || true
    if [ -n "$("$ENGINE" ps -aq --filter "label=$LABEL=$project")$("$ENGINE" volume ls -q --filter "label=$LABEL=$project")" ]; then
        log "container-smoke: could not remove everything of project $project" >&2
        return 1
    fi
}

# Projects of earlier runs whose script is gone (killed with SIGKILL, or the machine rebooted).
stale_projects_remove() {
    local project pid ids dir
    {
        ids=$("$ENGINE" ps -aq --filter "label=$LABEL")
        # shellcheck disable=SC2086
        [ -z "$ids" ] || "$ENGINE" inspect -f "{{index .Config.Labels \"$LABEL\"}}" $ids
        ids=$("$ENGINE" volume ls -q --filter "label=$LABEL")
        # shellcheck disable=SC2086
        [ -z "$ids" ] || "$ENGINE" volume inspect -f "{{index .Labels \"$LABEL\"}}" $ids
        ids=$("$ENGINE" network ls -q --filter "label=$LABEL")
        # shellcheck disable=SC2086
        [ -z "$ids" ] || "$ENGINE" network inspect -f "{{index .Labels \"$LABEL\"}}" $ids
    } 2>/dev/null | { grep "^$PROJECT_PREFIX-[0-9]*-" || true; } | sort -u | while read -r project; do
        pid=${project#"$PROJECT_PREFIX-"}
        pid=${pid%%-*}
        if ! kill -0 "$pid" 2>/dev/null; then
            log "removing the leftovers of an earlier run: $project"
            project_remove "$project" || true
        fi
    done
    for dir in "${TMPDIR:-/tmp}/$PROJECT_PREFIX"-*; do
        pid=${dir#"${TMPDIR:-/tmp}/$PROJECT_PREFIX-"}
        pid=${pid%%-*}
        [ ! -d "$dir" ] || kill -0 "$pid" 2>/dev/null || rm -rf "$dir"
    done
}

cleanup() {
    local rc=$? project
    trap - EXIT INT TERM HUP
    if [ -n "$CHILD" ]; then
        kill "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    [ -z "$CURRENT_PHASE" ] || phase_record FAILED
    if [ -n "${ENGINE:-}" ] && ((${#STARTED_PROJECTS[@]})); then
        CURRENT_PHASE="clean up (whatever is left)"
        PHASE_START=${EPOCHREALTIME/./}
        log "== $CURRENT_PHASE"
        local removed=ok
        for project in "${STARTED_PROJECTS[@]}"; do
            project_remove "$project" || removed="FAILED: see above"
        done
        [ "$removed" = ok ] || rc=1
        phase_record "$removed"
    fi
    rm -rf "$WORK"
    [ -z "${ENGINE:-}" ] || timings
    if ((rc == 0)); then log "container-smoke: OK"; else log "container-smoke: FAILED (exit $rc)" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
# Any command that fails outside `fail` says where, rather than ending the run without a word.
trap 'log "container-smoke: \"$BASH_COMMAND\" failed (exit $?, line $LINENO)" >&2' ERR
trap 'log "container-smoke: interrupted" >&2; exit 130' INT
trap 'log "container-smoke: terminated" >&2; exit 143' TERM HUP

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# `state PROJECT SERVICE`: "<status> <exit code> <restarts> <health or ->", from the engine.
state() {
    local id
    id=$(container_of "$1" "$2")
    [ -n "$id" ] || {
        echo "missing 0 0 -"
        return
    }
    if [ "$ENGINE" = podman ] && [ "$("$ENGINE" inspect -f '{{json .Config.Healthcheck}}' "$id")" != null ]; then
        # podman 4.3 runs health checks only when asked: no systemd timers here.
        podman healthcheck run "$id" >/dev/null 2>&1 || true
    fi
    "$ENGINE" inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{end}}-' "$id" |
        sed -E 's/([a-z])-$/\1/'
}

# Waits until each service is healthy (with a health check), has exited 0 (one-shot), or has
# been running without a restart for 3 polls in a row (neither); fails at once on a crash.
services_ready() { # PROJECT TIMEOUT ONESHOT_SERVICES SERVICES...
    local project=$1 timeout=$2 deadline=$((SECONDS + $2)) oneshot=" $3 " service status code restarts health
    shift 3
    declare -A steady=()
    local pending=("$@")
    while ((${#pending[@]})); do
        local still=()
        for service in "${pending[@]}"; do
            read -r status code restarts health <<<"$(state "$project" "$service")"
            if [[ "$oneshot" == *" $service "* ]]; then
                case "$status" in
                exited) ((code == 0)) || service_fail "$project" "$service" "exited with $code" ;;
                *) still+=("$service") ;;
                esac
                continue
            fi
            if [ "$status" = exited ] || ((restarts > 0)); then
                service_fail "$project" "$service" "$status (exit $code, $restarts restarts)"
            fi
            if [ "$health" = healthy ]; then
                continue
            elif [ "$health" = - ] && [ "$status" = running ]; then
                steady[$service]=$((${steady[$service]:-0} + 1))
                ((${steady[$service]} >= 3)) && continue
            fi
            still+=("$service")
        done
        pending=("${still[@]}")
        ((${#pending[@]})) || break
        if ((SECONDS > deadline)); then
            for service in "${pending[@]}"; do log "   not ready: $service: $(state "$project" "$service")"; done
            service_fail "$project" "${pending[0]}" "not ready after $timeout s"
        fi
        sleep 2
    done
    log "   ready: $*"
}

service_fail() { # PROJECT SERVICE WHY
    local id
    id=$(container_of "$1" "$2")
    log "   --- $2: $3; its last log lines:"
    [ -z "$id" ] || "$ENGINE" logs --tail 40 "$id" 2>&1 | sed 's/^/   | /'
    fail "$1: service $2: $3"
}

in_service() { # PROJECT SERVICE COMMAND...
    local project=$1 service=$2 id
    shift 2
    id=$(container_of "$project" "$service")
    [ -n "$id" ] || fail "$project has no $service container"
    "$ENGINE" exec "$id" "$@"
}

# The address of this host on the project's network: the containers reach it, and a receiver
# bound to it answers only them and this host.
network_gateway() {
    local id
    id=$("$ENGINE" network ls -q --filter "label=$LABEL=$1" | head -n 1)
    [ -n "$id" ] || fail "$1 has no network"
    "$ENGINE" network inspect "$id" | python3 -c '
import json, sys
net = json.load(sys.stdin)[0]
gateways = [s.get("gateway") for s in net.get("subnets") or []]  # podman
gateways += [c.get("Gateway") for c in (net.get("IPAM") or {}).get("Config") or []]  # docker
print(next(g for g in gateways if g and ":" not in g))'
}

# --- the stacks -----------------------------------------------------------------------------

APP_SERVICES=(web worker webhooks trainer beat flower)

secrets_generate() {
    export DJANGO_SECRET_KEY POSTGRES_PASSWORD FLOWER_BASIC_AUTH DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
    DJANGO_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
    POSTGRES_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))') # URL-safe
    FLOWER_BASIC_AUTH="smoke:$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
    export IMAGE_TAG
}

stack_up() { # PROJECT FILE: backing services, then the migration, then the rest
    local project=$1 file=$2
    STARTED_PROJECTS+=("$project")
    # Dependency order by hand: podman-compose before podman 4.6 ignores `service_healthy`, and
    # chained depends_on fail ("not found in input list"); --no-deps works on docker alike.
    quiet "$project up postgres redis" project_compose "$project" "$file" up -d --no-deps postgres redis
    services_ready "$project" 120 "" postgres redis
    quiet "$project up migrate" project_compose "$project" "$file" up -d --no-deps migrate
    services_ready "$project" 180 migrate migrate
}

app_up() { # PROJECT FILE
    quiet "$1 up ${APP_SERVICES[*]}" project_compose "$1" "$2" up -d --no-deps "${APP_SERVICES[@]}"
    services_ready "$1" 300 "" postgres redis "${APP_SERVICES[@]}"
}

override_write() { # PROJECT WEB_PORT FLOWER_PORT [WEBHOOK_HOST]
    local host=${4:-}
    {
        echo "services:"
        echo "  web:"
        echo "    ports: !override [\"127.0.0.1:$2:8000\"]"
        if [ -n "$host" ]; then
            echo "    environment:"
            echo "      WEBHOOK_ALLOWED_HOSTS: \"$host\""
            echo "  webhooks:"
            echo "    environment:"
            echo "      WEBHOOK_ALLOWED_HOSTS: \"$host\""
        fi
        echo "  flower:"
        echo "    ports: !override [\"127.0.0.1:$3:5555\"]"
    } >"$WORK/$1.override.yml"
}

prod_seed() {
    quiet "generate_training_data" in_service "$PROJECT" web python manage.py generate_training_data \
        --jobs 2000 --cleaners 150 --clients 300 --seed 42 --reference-date "$(date -u +%Y-%m-%d)"
    quiet "reset_sequences" in_service "$PROJECT" web python manage.py reset_sequences
    local demo
    demo=$(in_service "$PROJECT" web python -c '
import django; django.setup()
from app.marketplace.models import CleaningJob
job = CleaningJob.objects.filter(status="open_for_bids").order_by("scheduled_start").select_related("client__user").first()
print(job.client.user.username, job.pk)')
    read -r DEMO_USER DEMO_JOB <<<"$demo"
    [ -n "${DEMO_JOB:-}" ] || fail "no open job in the seeded data: $demo"
    log "   demo client $DEMO_USER, open job $DEMO_JOB"
}

prod_train() {
    # In the trainer (the worker image, the models volume): the worker then answers with it.
    quiet "train_recommendation_model" in_service "$PROJECT" trainer \
        python manage.py train_recommendation_model --model-version "$MODEL_VERSION"
}

client_flow() {
    FEEDBACK_KEY="smoke-viewed-$PROJECT"
    "$PYTHON" scripts/smoke_client.py --api "http://127.0.0.1:$WEB_PORT" --username "$DEMO_USER" \
        --job "$DEMO_JOB" --receiver-host "$GATEWAY" --model-version "$MODEL_VERSION" \
        --feedback-key "$FEEDBACK_KEY" &
    CHILD=$!
    local rc=0
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}

feedback_applied() {
    # The API does not show it: read the inbox row and the recommendation it marks.
    in_service "$PROJECT" web python -c '
import sys, time
import django; django.setup()
from app.recommendations.models import RecommendationFeedback
deadline = time.monotonic() + 90  # the sweeper re-enqueues after 30 s, every minute
while True:
    event = RecommendationFeedback.objects.select_related("cleaner_recommendation").get(idempotency_key=sys.argv[1])
    viewed = event.cleaner_recommendation is not None and event.cleaner_recommendation.was_viewed
    if event.applied_at and viewed:
        print(f"   applied {(event.applied_at - event.received_at).total_seconds():.2f} s after it was received")
        break
    if event.dead_at or time.monotonic() > deadline:
        sys.exit(f"feedback not applied: applied_at={event.applied_at} viewed={viewed} error={event.last_error!r}")
    time.sleep(0.5)' "$FEEDBACK_KEY"
}

web_has_no_torch() {
    local out
    if out=$(in_service "$PROJECT" web python -c 'import torch' 2>&1); then
        fail "the web image imports torch: it must not ship it (Dockerfile.web, requirements/web.txt)"
    fi
    grep -q "No module named 'torch'" <<<"$out" || fail "python in the web image failed otherwise: $out"
    out=$(in_service "$PROJECT" worker python -c 'import torch; print(torch.__version__)') ||
        fail "the worker image cannot import torch"
    log "   web: no torch; worker: torch $out"
}

dev_checks() {
    local body
    body=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
        "http://127.0.0.1:$DEV_WEB_PORT/healthz") || fail "the dev web does not answer /healthz on 127.0.0.1:$DEV_WEB_PORT"
    [ "$body" = '{"status": "ok"}' ] || fail "the dev web's /healthz answered $body"
    [ "$(in_service "$DEV_PROJECT" web id -u):$(in_service "$DEV_PROJECT" web id -g)" = "$DEV_USER" ] ||
        fail "the dev web does not run as DEV_USER=$DEV_USER"
    in_service "$DEV_PROJECT" web sh -c 'test -w /app' ||
        fail "the dev web cannot write the mounted tree as DEV_USER=$DEV_USER"
    log "   /healthz: $body; the web runs as $DEV_USER and can write the tree"
}

prod_smoke() {
    WEB_PORT=$(free_port)
    local flower_port
    flower_port=$(free_port)
    override_write "$PROJECT" "$WEB_PORT" "$flower_port"
    phase "prod: postgres, redis, migrate" stack_up "$PROJECT" docker-compose.prod.yml
    GATEWAY=$(network_gateway "$PROJECT")
    log "   this host on the stack's network: $GATEWAY; web on 127.0.0.1:$WEB_PORT"
    override_write "$PROJECT" "$WEB_PORT" "$flower_port" "$GATEWAY"
    phase "prod: app services healthy" app_up "$PROJECT" docker-compose.prod.yml
    phase "prod: seed the demo marketplace" prod_seed
    phase "prod: train a model in the trainer" prod_train
    phase "prod: client flow (token, ask, poll, webhook, feedback)" client_flow
    phase "prod: feedback applied" feedback_applied
    phase "prod: web image has no torch" web_has_no_torch
    phase "prod: tear down with volumes" project_remove "$PROJECT"
}

dev_smoke() {
    DEV_PROJECT="$PROJECT-dev"
    DEV_WEB_PORT=$(free_port)
    export DEV_USER
    DEV_USER="$(id -u):$(id -g)"
    override_write "$DEV_PROJECT" "$DEV_WEB_PORT" "$(free_port)"
    phase "dev: postgres, redis, migrate" stack_up "$DEV_PROJECT" docker-compose.dev.yml
    phase "dev: app services healthy" app_up "$DEV_PROJECT" docker-compose.dev.yml
    phase "dev: /healthz, tree writable" dev_checks
    phase "dev: tear down with volumes" project_remove "$DEV_PROJECT"
}

main() {
    engine_detect
    PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
    "$PYTHON" -c 'import standardwebhooks' 2>/dev/null ||
        fail "$PYTHON cannot import standardwebhooks (make test creates .venv with it; or set PYTHON)"
    stale_projects_remove
    secrets_generate
    build_args
    phase "build the web image" image_build recsvc-web Dockerfile.web
    phase "build the worker image" image_build recsvc-worker Dockerfile.worker "${BUILD_ARGS[@]}"
    case ",$STACKS," in *,prod,*) prod_smoke ;; esac
    case ",$STACKS," in *,dev,*) dev_smoke ;; esac
}

main "$@"
