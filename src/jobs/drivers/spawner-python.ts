// The spawning helper in Python: `posix_spawn` (a vfork-style clone) starts each child without copying any process.

/**
 * The same requests, replies and behaviour as the Perl helper (spawner-perl.ts, spawner-lines.ts), from Python's
 * standard library only. What it changes: Perl and Node fork, and the kernel copies the helper's page tables and
 * the child pays copy-on-write faults until its exec; glibc's `posix_spawn` runs the child in the helper's memory
 * until its exec instead, so starting a process costs about what `xargs` pays (measured in docs/jobs.md).
 * `posix_spawn` cannot change directory, so the helper does it for itself around each spawn (it has one thread),
 * and it finds the command on the job's PATH by setting its own PATH first, as execvp would. A file the kernel
 * will not run (no `#!`) is run by /bin/sh, as execvp does.
 */
export function pythonHelperSource(logCloseGraceMs: number): string {
  return `
import errno, os, selectors, shutil, signal, sys, time
try:
    with open('/proc/self/comm', 'w') as comm:
        comm.write('shoal-job-spawn')
except OSError:
    pass
GRACE = ${logCloseGraceMs} / 1000
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
# Python ignores these for itself; a job starts with every disposition at its default.
RESET = {signal.SIGPIPE, signal.SIGXFSZ}
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda number, frame: None)
NULL = os.open('/dev/null', os.O_RDONLY)
selector = selectors.DefaultSelector()
jobs = {}
by_pid = {}
inbuf = bytearray()
leaving = False

class Job:
    def __init__(self, req, log, out, limit, note):
        self.req, self.log, self.out, self.limit, self.note = req, log, out, limit, note
        self.written, self.cut, self.log_failed, self.done = 0, False, False, False
        self.status, self.grace_at = None, None

def errname(err):
    return errno.errorcode.get(err.errno or 0, 'EIO')

def reply(*parts):
    line = ' '.join(str(part) for part in parts).replace('\\r', ' ').replace('\\n', ' ') + '\\n'
    data = memoryview(line.encode('utf-8', 'surrogateescape'))
    try:
        while data:
            data = data[os.write(1, data):]
    except OSError:
        # The daemon has gone (killed): its children still run, and their output still goes to their logs.
        pass

def text(raw):
    return os.fsdecode(raw)

def spawn(file, args, env, out_w):
    actions = [(os.POSIX_SPAWN_DUP2, NULL, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, out_w, 2)]
    try:
        return os.posix_spawnp(file, [file] + args, env, file_actions=actions, setsid=True, setsigdef=RESET)
    except OSError as err:
        if err.errno != errno.ENOEXEC:
            raise
    found = (file if b'/' in file else shutil.which(file, path=env.get(b'PATH'))) or file
    return os.posix_spawn(b'/bin/sh', [b'/bin/sh', found] + args, env, file_actions=actions, setsid=True,
                          setsigdef=RESET)

def start(req, file, cwd, path, limit, note, env, args):
    try:
        log = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as err:
        message = "cannot open the log file: %s: %s, open '%s'" % (errname(err), err.strerror, text(path))
        return reply('error', req, 'ELOG', message)
    out_r, out_w = os.pipe()
    failure = None
    try:
        os.chdir(cwd)
    except OSError as err:
        failure = (errname(err), 'chdir %s: %s' % (text(cwd), err.strerror))
    if failure is None:
        if b'PATH' in env:
            os.environb[b'PATH'] = env[b'PATH']
        else:
            os.environb.pop(b'PATH', None)
        try:
            pid = spawn(file, args, env, out_w)
        except OSError as err:
            failure = (errname(err), 'spawn %s: %s' % (text(file), err.strerror))
        except ValueError as err:
            failure = ('EINVAL', 'spawn %s: %s' % (text(file), err))
        os.chdir('/')
    os.close(out_w)
    if failure is not None:
        os.close(out_r)
        os.close(log)
        return reply('error', req, failure[0], failure[1])
    os.set_blocking(out_r, False)
    job = Job(req, log, out_r, limit, note)
    jobs[req] = job
    by_pid[pid] = job
    selector.register(out_r, selectors.EVENT_READ, job)
    reply('spawned', req, pid)

def close_output(job):
    selector.unregister(job.out)
    os.close(job.out)
    job.out = None

def take_output(job):
    try:
        chunk = os.read(job.out, 65536)
    except BlockingIOError:
        return
    except OSError:
        chunk = b''
    if not chunk:
        close_output(job)
        return finish_if_done(job)
    if job.cut:
        return
    room = job.limit - job.written
    if len(chunk) > room:
        job.cut = True
        if room > 0:
            write_log(job, chunk[:room])
        return write_log(job, job.note)
    job.written += len(chunk)
    write_log(job, chunk)

def write_log(job, data):
    if job.log_failed:
        return
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(job.log, view):]
        except OSError:
            job.log_failed = job.cut = True
            return

def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        job = by_pid.pop(pid, None)
        if job is None:
            continue
        job.status = status
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        job.grace_at = time.monotonic() + GRACE
        finish_if_done(job)

def finish_if_done(job):
    if job.status is None or job.done:
        return
    if job.out is not None:
        if time.monotonic() < job.grace_at:
            return
        close_output(job)
    job.done = True
    os.close(job.log)
    del jobs[job.req]
    if os.WIFSIGNALED(job.status):
        number = os.WTERMSIG(job.status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = 'SIG%d' % number
        reply('exit', job.req, '-', name)
    else:
        reply('exit', job.req, os.WEXITSTATUS(job.status), '-')
    if leaving and not jobs:
        sys.exit(0)

def take_requests():
    while True:
        newline = inbuf.find(b'\\n')
        if newline < 0:
            return
        length = int(inbuf[:newline])
        if len(inbuf) < newline + 1 + length:
            return
        payload = bytes(inbuf[newline + 1:newline + 1 + length])
        del inbuf[:newline + 1 + length]
        req, file, cwd, path, limit, note, argc, *rest = payload.split(b'\\0')
        argc = int(argc)
        env = dict(entry.split(b'=', 1) for entry in rest[argc:])
        start(int(req), file, cwd, path, int(limit), note, env, rest[:argc])

def take_stdin():
    global leaving
    try:
        data = os.read(0, 65536)
    except BlockingIOError:
        return
    if data:
        inbuf.extend(data)
        return take_requests()
    leaving = True
    selector.unregister(0)
    if not jobs:
        sys.exit(0)

os.set_blocking(0, False)
selector.register(0, selectors.EVENT_READ, 'stdin')
selector.register(wake_r, selectors.EVENT_READ, 'wake')
while True:
    waits = [job.grace_at for job in jobs.values() if job.grace_at is not None and job.out is not None]
    timeout = max(0, min(waits) - time.monotonic() + 0.01) if waits else None
    for key, _ in selector.select(timeout):
        if key.data == 'wake':
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        elif key.data == 'stdin':
            take_stdin()
        elif key.data.out is not None:
            take_output(key.data)
    reap()
    for job in [job for job in jobs.values() if job.status is not None]:
        finish_if_done(job)
`
}
