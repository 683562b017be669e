<#
.SYNOPSIS
  Remove the aigate agent: restore every tool it changed first, then remove the service and files.

.DESCRIPTION
  In an elevated PowerShell:  & "$env:ProgramFiles\aigate\current\uninstall.ps1" [-KeepState] [-Force]
  -KeepState keeps %ProgramData%\aigate (enrollment, device key, unsent events).
  -Force removes the agent even if restoring some tool failed.
#>
[CmdletBinding()]
param(
  [string]$Prefix = (Join-Path $env:ProgramFiles 'aigate'),
  [string]$StateDir = (Join-Path $env:ProgramData 'aigate'),
  [switch]$KeepState,
  [switch]$Force
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Fail([string]$message) { Write-Error "uninstall.ps1: $message"; exit 1 }

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) { Fail 'run me in an elevated PowerShell (as Administrator)' }

$serviceExe = Join-Path $Prefix 'service\aigate-agent-service.exe'
# 1. Stop the service, so nothing re-applies a block while we restore.
if (Get-Service -Name 'aigate-agent' -ErrorAction SilentlyContinue) { & $serviceExe stop | Out-Null }

# 2. Restore every tool the agent changed.
$agent = Join-Path $Prefix 'current\bin\aigate-agent.cmd'
if ((Test-Path $agent) -and (Test-Path $StateDir)) {
  Write-Host 'Restoring every tool the agent stubbed or quarantined ...'
  & $agent restore --all --state-dir $StateDir
  if ($LASTEXITCODE -ne 0) {
    if ($Force) { Write-Warning 'some tools could not be restored (see above); removing the agent anyway (-Force)' }
    else { Fail 'some tools could not be restored (see above). Nothing was removed; fix the cause and run uninstall.ps1 again, or use -Force' }
  }
}

# 3. Remove the service, PATH entry and files.
if (Get-Service -Name 'aigate-agent' -ErrorAction SilentlyContinue) { & $serviceExe uninstall | Out-Null }
$binDir = Join-Path $Prefix 'current\bin'
$machinePath = [Environment]::GetEnvironmentVariable('Path', 'Machine')
[Environment]::SetEnvironmentVariable('Path', (($machinePath -split ';') | Where-Object { $_ -and $_ -ne $binDir }) -join ';', 'Machine')
$current = Join-Path $Prefix 'current'
if (Test-Path $current) { cmd /c rmdir "$current" | Out-Null }
Remove-Item -Recurse -Force $Prefix -ErrorAction SilentlyContinue
if ($KeepState) { Write-Host "Kept the agent's state in $StateDir (-KeepState)." }
else { Remove-Item -Recurse -Force $StateDir -ErrorAction SilentlyContinue }
Write-Host 'aigate agent removed.'
