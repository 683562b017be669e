<#
.SYNOPSIS
  Install (or upgrade) the aigate agent as a Windows service.

.DESCRIPTION
  Run from the unpacked Windows agent tarball in an elevated PowerShell:

    .\install.ps1 -Server https://aigate.example.com -SecretFile C:\secure\enroll.secret [-PolicyKeyFingerprint FP]

  Copies the agent to -Prefix (default %ProgramFiles%\aigate\releases\<version>, with "current"
  pointing at it), creates the state folder with restricted ACLs, enrolls, and registers the
  "aigate-agent" service through WinSW (a small, well-known service wrapper: Node.js cannot talk
  to the Service Control Manager itself). Idempotent: run it again to repair or to upgrade.
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true)][string]$Server,
  [string]$Secret,
  [string]$SecretFile,
  [string]$PolicyKeyFingerprint,
  [string]$Prefix = (Join-Path $env:ProgramFiles 'aigate'),
  [string]$StateDir = (Join-Path $env:ProgramData 'aigate'),
  [string]$Node,
  [switch]$InsecureHttp,
  [switch]$NoStart
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Fail([string]$message) { Write-Error "install.ps1: $message"; exit 1 }

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) { Fail 'run me in an elevated PowerShell (as Administrator)' }
if ($Server -notmatch '^https?://') { Fail "-Server must be an http(s) URL, got $Server" }

$here = Split-Path -Parent $MyInvocation.MyCommand.Path
foreach ($required in 'lib\aigate-agent.mjs', 'VERSION', 'service\aigate-agent-service.xml') {
  if (-not (Test-Path (Join-Path $here $required))) { Fail "run me from the unpacked agent tarball ($required is missing)" }
}
$version = (Get-Content (Join-Path $here 'VERSION') -Raw).Trim()
$wrapper = Join-Path $here 'service\aigate-agent-service.exe'
if (-not (Test-Path $wrapper)) { Fail "service\aigate-agent-service.exe (WinSW) is missing from the tarball; put WinSW 2.x there under that name" }

# --- Node.js 20 or newer ------------------------------------------------------------------
if (-not $Node) {
  if (Test-Path (Join-Path $here 'node\node.exe')) { $Node = 'bundled' }
  else { $found = Get-Command node.exe -ErrorAction SilentlyContinue; if ($found) { $Node = $found.Source } }
}
if (-not $Node) { Fail 'Node.js 20 or newer is needed: install it, or pass -Node C:\path\to\node.exe' }
$checkNode = if ($Node -eq 'bundled') { Join-Path $here 'node\node.exe' } else { $Node }
$major = [int](& $checkNode -p "process.versions.node.split('.')[0]")
if ($major -lt 20) { Fail "$checkNode is Node.js $major; the agent needs 20 or newer" }

# --- Files ------------------------------------------------------------------------------
$release = Join-Path $Prefix "releases\$version"
Write-Host "Installing aigate agent $version into $release"
if (Test-Path $release) { Remove-Item -Recurse -Force $release }
New-Item -ItemType Directory -Force -Path (Join-Path $release 'lib'), (Join-Path $release 'bin'), (Join-Path $release 'service') | Out-Null
Copy-Item (Join-Path $here 'lib\aigate-agent.mjs') (Join-Path $release 'lib')
Copy-Item (Join-Path $here 'bin\aigate-agent.cmd') (Join-Path $release 'bin')
Copy-Item (Join-Path $here 'VERSION'), (Join-Path $here 'uninstall.ps1') $release
if ($Node -eq 'bundled') {
  Copy-Item -Recurse (Join-Path $here 'node') (Join-Path $release 'node')
  $runtime = Join-Path $Prefix 'current\node\node.exe'
} else {
  Set-Content -Path (Join-Path $release 'node-path.txt') -Value $Node -Encoding ASCII
  $runtime = $Node
}
# "current" is a junction, switched in one step once the release is complete.
$current = Join-Path $Prefix 'current'
if (Test-Path $current) { cmd /c rmdir "$current" | Out-Null }
New-Item -ItemType Junction -Path $current -Target $release | Out-Null

# Program files: Administrators and SYSTEM change them; everyone may run them.
& icacls $Prefix /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-32-545:(OI)(CI)RX' | Out-Null

# --- State folder -------------------------------------------------------------------------
# SYSTEM and Administrators: full control. Users: read (status.json) and, in the two drop
# folders, create files only (launch records from the stubs, exception requests).
New-Item -ItemType Directory -Force -Path $StateDir, (Join-Path $StateDir 'launches'), (Join-Path $StateDir 'requests'), (Join-Path $StateDir 'logs') | Out-Null
& icacls $StateDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-32-545:RX' | Out-Null
foreach ($drop in 'launches', 'requests') {
  & icacls (Join-Path $StateDir $drop) /grant:r '*S-1-5-32-545:(WD,AD,S)' | Out-Null
}

# --- Enrollment ---------------------------------------------------------------------------
$agent = Join-Path $release 'bin\aigate-agent.cmd'
if ($SecretFile) {
  if (-not (Test-Path $SecretFile)) { Fail "cannot read -SecretFile $SecretFile" }
  $Secret = (Get-Content $SecretFile -Raw).Trim()
}
if (-not $Secret) { $Secret = $env:AIGATE_ENROLL_SECRET }
if ($Secret) {
  $secretTmp = Join-Path $StateDir ("enroll-secret-" + [guid]::NewGuid() + '.tmp')
  try {
    Set-Content -Path $secretTmp -Value $Secret -NoNewline -Encoding ASCII
    & icacls $secretTmp /inheritance:r /grant:r '*S-1-5-18:F' '*S-1-5-32-544:F' | Out-Null
    $arguments = @('enroll', '--server', $Server, '--secret-file', $secretTmp, '--state-dir', $StateDir)
    if ($PolicyKeyFingerprint) { $arguments += @('--policy-key-fingerprint', $PolicyKeyFingerprint) }
    if ($InsecureHttp) { $arguments += '--insecure-http' }
    & $agent @arguments
    if ($LASTEXITCODE -ne 0) { Fail 'enrollment failed (see above); the files are installed, run install.ps1 again to retry' }
  } finally {
    Remove-Item -Force -ErrorAction SilentlyContinue $secretTmp
  }
} elseif (Test-Path (Join-Path $StateDir 'config.json')) {
  Write-Host "Already enrolled (state in $StateDir kept)."
} else {
  Fail 'this machine is not enrolled yet: give -Secret, -SecretFile or AIGATE_ENROLL_SECRET'
}

# --- Service (WinSW) ----------------------------------------------------------------------
$serviceDir = Join-Path $Prefix 'service'
New-Item -ItemType Directory -Force -Path $serviceDir | Out-Null
$existing = Get-Service -Name 'aigate-agent' -ErrorAction SilentlyContinue
if ($existing) {
  & (Join-Path $serviceDir 'aigate-agent-service.exe') stop | Out-Null
  & (Join-Path $serviceDir 'aigate-agent-service.exe') uninstall | Out-Null
}
Copy-Item -Force $wrapper (Join-Path $serviceDir 'aigate-agent-service.exe')
$xml = (Get-Content (Join-Path $here 'service\aigate-agent-service.xml') -Raw).Replace('@NODE@', $runtime).Replace('@PREFIX@', $Prefix).Replace('@STATE_DIR@', $StateDir)
Set-Content -Path (Join-Path $serviceDir 'aigate-agent-service.xml') -Value $xml -Encoding UTF8
& (Join-Path $serviceDir 'aigate-agent-service.exe') install
if ($LASTEXITCODE -ne 0) { Fail 'registering the service failed (see above)' }
if (-not $NoStart) {
  & (Join-Path $serviceDir 'aigate-agent-service.exe') start
  if ($LASTEXITCODE -ne 0) { Fail 'starting the service failed (see above)' }
}

# Employees run `aigate-agent status` and `aigate-agent request-exception` from PATH.
$machinePath = [Environment]::GetEnvironmentVariable('Path', 'Machine')
$binDir = Join-Path $Prefix 'current\bin'
if (($machinePath -split ';') -notcontains $binDir) {
  [Environment]::SetEnvironmentVariable('Path', "$machinePath;$binDir", 'Machine')
}

Write-Host "aigate agent $version is installed."
Write-Host "  status:     aigate-agent status   (any user; --json for scripts)"
Write-Host "  logs:       $StateDir\logs"
Write-Host "  health:     Get-Service aigate-agent; the server's device list shows its last check-in"
Write-Host "  uninstall:  $Prefix\current\uninstall.ps1   (restores every tool the agent changed)"
