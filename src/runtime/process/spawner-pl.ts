/**
 * The Perl spawner helper, run with `perl -e` (a string, so that nothing but compiled JavaScript has to be shipped).
 * It speaks the same protocol as spawner.ts, documented there.
 */
export const PERL_SPAWNER = String.raw`# The process runtime's spawner helper, Perl flavour (used when perl is installed; spawner.ts otherwise).
# Why Perl: a fork of this ~5 MB process costs about a quarter of the CPU of a fork of a Node process, and the
# spawner's forks were the largest cost of running many short jobs. Only modules of perl-base are used.
#
# Protocol (same as spawner.ts): each field hex-encoded, fields separated by spaces, one request or event a line.
# stdin:  id cwd pidFile cgroupProcs file nargs arg... key value key value...
# stdout: S id pid | O id 1|2 size | X id code|- signal|- | C id code|- signal|- | E id m|s message
# (E: mkdir or spawn failed; X: the main process exited, C: and its output pipes closed.)
# An O line is followed by size raw bytes of output.
use strict;
use warnings;
use POSIX ();
use IO::Select;
use File::Path ();
use Config;

my @SIG_NAMES = split ' ', $Config{sig_name};

# After the main process exited, its pipes may be held open by a process that escaped the runtime's tracking: stop
# waiting for them after this many seconds.
my $DRAIN_SECONDS = 3;

my $sel = IO::Select->new();
my (%byfh, %bypid, %run);
pipe(my $wake_r, my $wake_w) or die "pipe: $!";
$sel->add(\*STDIN, $wake_r);
# Self-pipe: a SIGCHLD that arrives just before select() still wakes it.
$SIG{CHLD} = sub { syswrite($wake_w, 'x') };
$SIG{PIPE} = 'IGNORE';

sub hx { return unpack('H*', $_[0]) }
sub out { my $off = 0; while ($off < length $_[0]) { my $n = syswrite(STDOUT, $_[0], length($_[0]) - $off, $off); next if !defined $n && $!{EINTR}; die "stdout: $!" unless defined $n; $off += $n } }
sub emit { out(join(' ', @_) . "\n") }

sub finish {
  my ($id) = @_;
  my $r = $run{$id};
  return unless $r && $r->{open} == 0 && defined $r->{status};
  delete $run{$id};
  unlink $r->{pidfile};
  rmdir($r->{cwd}) or File::Path::remove_tree($r->{cwd});
  my $st = $r->{status};
  emit('C', hx($id), ($st & 127) ? ('-', hx('SIG' . ($SIG_NAMES[$st & 127] // ''))) : (hx($st >> 8), '-'));
}


sub start {
  my ($id, $cwd, $pidfile, $cgprocs, $file, $nargs, @rest) = @_;
  my @args = splice(@rest, 0, $nargs);
  my %env = @rest;
  if (!-d $cwd && !eval { File::Path::make_path($cwd); 1 }) {
    emit('E', hx($id), hx('m'), hx("cannot create scratch directory $cwd: " . ($@ || $!)));
    return;
  }
  pipe(my $or, my $ow) or return emit('E', hx($id), hx('s'), hx("pipe: $!"));
  pipe(my $er, my $ew) or return emit('E', hx($id), hx('s'), hx("pipe: $!"));
  pipe(my $xr, my $xw) or return emit('E', hx($id), hx('s'), hx("pipe: $!")); # close-on-exec: reports exec errors
  my $pid = fork();
  if (!defined $pid) { emit('E', hx($id), hx('s'), hx("fork: $!")); return }
  if ($pid == 0) {
    $SIG{CHLD} = 'DEFAULT';
    $SIG{PIPE} = 'DEFAULT';
    close $or; close $er; close $xr;
    POSIX::setsid();
    # Join the attempt's cgroup before exec, so that everything the job starts is born inside it.
    if ($cgprocs ne '' && open(my $cg, '>', $cgprocs)) { print $cg "$$\n"; close $cg }
    if (!chdir $cwd) { syswrite($xw, 0 + $!); POSIX::_exit(127) }
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>&', $ow);
    open(STDERR, '>&', $ew);
    %ENV = %env;
    { no warnings 'exec'; exec { $file } $file, @args; }
    syswrite($xw, 0 + $!);
    POSIX::_exit(127);
  }
  close $ow; close $ew; close $xw;
  my $errno = '';
  1 while !defined sysread($xr, $errno, 64) && $!{EINTR};
  close $xr;
  if ($errno ne '') {
    waitpid($pid, 0);
    close $or; close $er;
    unlink $pidfile;
    rmdir($cwd) or File::Path::remove_tree($cwd);
    emit('E', hx($id), hx('s'), hx("errno:$errno"));
    return;
  }
  $run{$id} = { cwd => $cwd, pidfile => $pidfile, open => 2, fhs => [$or, $er], pid => $pid, cgprocs => $cgprocs };
  $bypid{$pid} = $id;
  $byfh{$or} = [$id, '1'];
  $byfh{$er} = [$id, '2'];
  $sel->add($or, $er);
  emit('S', hx($id), hx($pid));
  if (open(my $pf, '>', $pidfile)) { print $pf $pid; close $pf }
}

sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $id = delete $bypid{$pid};
    next unless defined $id;
    my $st = $?;
    $run{$id}{status} = $st;
    $run{$id}{deadline} = time() + $DRAIN_SECONDS;
    emit('X', hx($id), ($st & 127) ? ('-', hx('SIG' . ($SIG_NAMES[$st & 127] // ''))) : (hx($st >> 8), '-'));
    finish($id);
  }
}

sub close_fh {
  my ($fh) = @_;
  return unless $byfh{$fh};
  my ($id) = @{ $byfh{$fh} };
  $sel->remove($fh);
  delete $byfh{$fh};
  close $fh;
  $run{$id}{open}--;
}

# Runs whose main process exited long enough ago: give up on their pipes.
sub drain_overdue {
  my $now = time();
  my $next;
  for my $id (keys %run) {
    my $r = $run{$id};
    next unless defined $r->{deadline};
    if ($now >= $r->{deadline}) { close_fh($_) for @{ $r->{fhs} }; finish($id) }
    elsif (!defined $next || $r->{deadline} - $now < $next) { $next = $r->{deadline} - $now }
  }
  return $next;
}

# EOF on stdin: the server ended (even by kill -9). Processes cannot be re-attached, and the next leader may be another
# replica that settles and retries them: kill every attempt still running (process group and cgroup), then exit.
sub kill_running {
  # Every process below the attempts by parent, read before anything is killed (so none is re-parented yet): it
  # catches what started a session of its own where no cgroup holds the attempt.
  my %children;
  if (opendir(my $d, '/proc')) {
    for my $p (grep { /^\d+$/ } readdir($d)) {
      open(my $f, '<', "/proc/$p/stat") or next;
      my $st = <$f> // '';
      close $f;
      push @{ $children{$1} }, $p if $st =~ /.*\)\s+\S+\s+(\d+)/; # the name may hold ')'
    }
    closedir $d;
  }
  my @todo = keys %bypid;
  my @below;
  while (@todo) { my $p = pop @todo; for my $c (@{ $children{$p} // [] }) { push @below, $c; push @todo, $c } }
  kill('KILL', @below) if @below;
  for my $pid (keys %bypid) { kill('KILL', -$pid) }
  for my $r (values %run) {
    next if defined $r->{status} || $r->{cgprocs} eq '';
    (my $k = $r->{cgprocs}) =~ s{cgroup\.procs$}{cgroup.kill};
    if (open(my $f, '>', $k)) { print $f "1\n"; close $f }
  }
}

my $inbuf = '';
for (;;) {
  my $timeout = drain_overdue();
  my @ready = $sel->can_read($timeout);
  reap();
  for my $fh (@ready) {
    if ($fh == $wake_r) { sysread($wake_r, my $junk, 4096); next }
    if (fileno($fh) == 0) {
      my $n = sysread(STDIN, my $buf, 65536);
      next if !defined $n && $!{EINTR};
      unless ($n) { kill_running(); exit 0 }
      $inbuf .= $buf;
      while ($inbuf =~ s/^([^\n]*)\n//) {
        next if $1 eq '';
        start(map { pack('H*', $_) } split(/ /, $1, -1));
      }
      next;
    }
    next unless $byfh{$fh};
    my $n = sysread($fh, my $buf, 65536);
    next if !defined $n && $!{EINTR};
    my ($id, $s) = @{ $byfh{$fh} };
    if ($n) { out(join(' ', 'O', hx($id), hx($s), hx($n)) . "\n" . $buf); next }
    close_fh($fh);
    finish($id);
  }
}
`;
