// The spawning helper in Perl (perl-base: Essential on Debian): forks a few MB instead of a whole V8 process per job.

/**
 * Requests come on stdin as `<length>\n<payload>`, the payload NUL-separated fields (req, file, cwd, log path,
 * max bytes, cut note, argument count, arguments, then `NAME=value` environment entries; the spawner refuses a
 * request whose text holds a NUL); replies go to stdout one per line: `spawned <req> <pid>`,
 * `error <req> <code> <message>`, `exit <req> <code|-> <signal|->`. The same behaviour as the Node helper
 * (spawner-node.ts): each child in its own session and process group, stdin from /dev/null, stdout and stderr
 * through one pipe into its log up to the cap (then the note, then drained), its group killed when it exits, the
 * exit reported once the log has every byte (or after the grace), and the helper stays until its children end
 * when the daemon goes (stdin closes).
 * Only modules of perl-base. A pipe carries a failed chdir or exec back from the child (close-on-exec: an
 * empty read means it ran).
 */
export function perlHelperSource(logCloseGraceMs: number): string {
  return `
use strict;
use warnings;
use POSIX qw(setsid _exit WNOHANG);
use Errno;
use Config;
$0 = 'shoal-job-spawner';
$SIG{PIPE} = 'IGNORE';
my @SIGNAME = split ' ', $Config{sig_name};
my $TICKS = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
my $GRACE = ${logCloseGraceMs} / 1000;
my %jobs;
my %by_pid;
my ($wake_r, $wake_w);
pipe($wake_r, $wake_w) or die "pipe: $!";
nonblocking($_) for $wake_r, $wake_w;
$SIG{CHLD} = sub { syswrite($wake_w, 'x') };
open(my $null, '<', '/dev/null') or die "open /dev/null: $!";
my $NULL_FD = fileno($null);
my $inbuf = '';
my $leaving = 0;
binmode STDIN;
binmode STDOUT;

sub nonblocking {
  my ($fh) = @_;
  my $flags = fcntl($fh, POSIX::F_GETFL(), 0);
  fcntl($fh, POSIX::F_SETFL(), $flags | POSIX::O_NONBLOCK());
}
sub now { return (POSIX::times())[0] / $TICKS }
sub errname {
  my ($errno) = @_;
  local $! = $errno;
  for my $name (keys %!) { return $name if $!{$name} }
  return 'EIO';
}
sub reply { my $line = join(' ', @_); $line =~ s/[\\r\\n]+/ /g; syswrite(STDOUT, "$line\\n") }

sub start {
  my ($req, $file, $cwd, $path, $max, $note, $env, @args) = @_;
  my $log;
  if (!open($log, '>>', $path)) {
    my $code = errname($! + 0);
    return reply('error', $req, 'ELOG', "cannot open the log file: $code: $!, open '$path'");
  }
  binmode $log;
  pipe(my $out_r, my $out_w) or return reply('error', $req, errname($! + 0), "pipe: $!");
  pipe(my $status_r, my $status_w) or return reply('error', $req, errname($! + 0), "pipe: $!");
  # Whatever the child can be given ready is made here: every page the child writes before exec is a
  # copy-on-write fault, and the environment is the most it would write. The helper itself never reads %ENV.
  %ENV = %$env;
  my $out_fd = fileno($out_w);
  my $pid = fork();
  if (!defined $pid) { return reply('error', $req, errname($! + 0), "fork: $!") }
  if ($pid == 0) {
    $SIG{PIPE} = 'DEFAULT';
    $SIG{CHLD} = 'DEFAULT';
    setsid();
    POSIX::dup2($NULL_FD, 0);
    POSIX::dup2($out_fd, 1);
    POSIX::dup2($out_fd, 2);
    my $failure;
    if (!chdir($cwd)) { $failure = errname($! + 0) . " chdir $cwd: $!" }
    else {
      { no warnings 'exec'; exec { $file } $file, @args; }
      $failure = errname($! + 0) . " spawn $file: $!";
    }
    syswrite($status_w, $failure);
    _exit(127);
  }
  close $out_w;
  close $status_w;
  my $failed = '';
  while (1) {
    my $got = sysread($status_r, my $chunk, 4096);
    last if defined $got && $got == 0;
    if (!defined $got) { next if $!{EINTR}; last }
    $failed .= $chunk;
  }
  close $status_r;
  if ($failed ne '') {
    waitpid($pid, 0);
    close $out_r;
    close $log;
    my ($code, $message) = split(/ /, $failed, 2);
    return reply('error', $req, $code, $message);
  }
  nonblocking($out_r);
  my $job = { req => $req, pid => $pid, log => $log, out => $out_r, written => 0, max => $max, note => $note,
    cut => 0, log_failed => 0, status => undef, grace_at => undef };
  $jobs{$req} = $job;
  $by_pid{$pid} = $job;
  reply('spawned', $req, $pid);
}

sub take_output {
  my ($job) = @_;
  my $got = sysread($job->{out}, my $chunk, 65536);
  if (!defined $got) { return if $!{EAGAIN} || $!{EINTR}; $got = 0 }
  if ($got == 0) { close $job->{out}; $job->{out} = undef; return finish_if_done($job) }
  return if $job->{cut};
  my $room = $job->{max} - $job->{written};
  if ($got > $room) {
    $job->{cut} = 1;
    write_log($job, substr($chunk, 0, $room)) if $room > 0;
    write_log($job, $job->{note});
    return;
  }
  $job->{written} += $got;
  write_log($job, $chunk);
}

sub write_log {
  my ($job, $bytes) = @_;
  return if $job->{log_failed};
  my $at = 0;
  while ($at < length $bytes) {
    my $n = syswrite($job->{log}, $bytes, length($bytes) - $at, $at);
    if (!defined $n) { next if $!{EINTR}; $job->{log_failed} = 1; $job->{cut} = 1; return }
    $at += $n;
  }
}

sub reap {
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $job = delete $by_pid{$pid};
    next unless $job;
    $job->{status} = $?;
    kill 'KILL', -$pid;
    $job->{grace_at} = now() + $GRACE;
    finish_if_done($job);
  }
}

sub finish_if_done {
  my ($job) = @_;
  return unless defined $job->{status};
  if (defined $job->{out}) {
    return if now() < $job->{grace_at};
    close $job->{out};
    $job->{out} = undef;
  }
  close $job->{log};
  delete $jobs{$job->{req}};
  my $status = $job->{status};
  my $signal = $status & 127;
  reply('exit', $job->{req}, $signal ? '-' : $status >> 8, $signal ? 'SIG' . $SIGNAME[$signal] : '-');
  exit 0 if $leaving && !%jobs;
}

sub take_requests {
  while (1) {
    my $nl = index($inbuf, "\\n");
    return if $nl < 0;
    my $length = substr($inbuf, 0, $nl);
    return if length($inbuf) < $nl + 1 + $length;
    my $payload = substr($inbuf, $nl + 1, $length);
    substr($inbuf, 0, $nl + 1 + $length) = '';
    my ($req, $file, $cwd, $path, $max, $note, $argc, @rest) = split(/\\0/, $payload, -1);
    my @args = splice(@rest, 0, $argc);
    my %env = map { split(/=/, $_, 2) } @rest;
    start($req, $file, $cwd, $path, $max, $note, \\%env, @args);
  }
}

nonblocking(\\*STDIN);
while (1) {
  my $rin = '';
  vec($rin, fileno($wake_r), 1) = 1;
  vec($rin, fileno(STDIN), 1) = 1 unless $leaving;
  my %by_fd;
  my $deadline;
  for my $job (values %jobs) {
    if (defined $job->{out}) { vec($rin, fileno($job->{out}), 1) = 1; $by_fd{fileno($job->{out})} = $job }
    $deadline = $job->{grace_at} if defined $job->{grace_at} && (!defined $deadline || $job->{grace_at} < $deadline);
  }
  my $timeout = defined $deadline ? $deadline - now() + 0.01 : undef;
  $timeout = 0 if defined $timeout && $timeout < 0;
  my $ready = select(my $rout = $rin, undef, undef, $timeout);
  if ($ready < 0) { next if $!{EINTR}; die "select: $!" }
  if (vec($rout, fileno($wake_r), 1)) { 1 while sysread($wake_r, my $drain, 512) }
  reap();
  if (!$leaving && vec($rout, fileno(STDIN), 1)) {
    my $got = sysread(STDIN, $inbuf, 65536, length $inbuf);
    if (defined $got && $got == 0) { $leaving = 1; exit 0 unless %jobs }
    elsif (defined $got) { take_requests() }
  }
  for my $fd (keys %by_fd) { take_output($by_fd{$fd}) if vec($rout, $fd, 1) && defined $by_fd{$fd}{out} }
  finish_if_done($_) for grep { defined $_->{status} } values %jobs;
}
`
}
