/**
 * The PowerShell side of the pwsh parser (pwsh-parser.ts): a loop that reads
 * one script per line from stdin (Base64 of its UTF-16 code units, so any
 * text arrives unchanged), parses it with [Parser]::ParseInput, which never
 * runs any of it, and answers one line (Base64 of UTF-8 JSON) with what
 * lint needs: the parse errors, the PowerShell 7-only constructs from the
 * syntax tree, and the variables and commands that may touch exch-cert's
 * internals. Offsets are into the script, in UTF-16 code units.
 *
 * Written for Windows PowerShell 5.1 too (AST types are matched by name, as
 * 5.1 has no PipelineChainAst), so `--shell powershell` can judge as well.
 */
export const PWSH_PARSE_SCRIPT = String.raw`
$ErrorActionPreference = 'Stop'
$utf8 = New-Object System.Text.UTF8Encoding -ArgumentList $false
function Send-Line([object]$Value) {
    $json = ConvertTo-Json -InputObject $Value -Depth 5 -Compress
    [Console]::Out.WriteLine([Convert]::ToBase64String($utf8.GetBytes($json)))
    [Console]::Out.Flush()
}
# Errors that are not syntax: a type or module that exists where the script runs, not here, and
# workflow, which PowerShell 7 parses but no longer runs (Windows PowerShell 5.1 does).
$notSyntax = @('TypeNotFound', 'WorkflowNotSupportedInPowerShellCore', 'ModuleNotFoundDuringParse', 'ErrorLoadingAssembly', 'RequiresModuleInvalid')
$interesting = @{
    PipelineChainAst = 1; TernaryExpressionAst = 1; BinaryExpressionAst = 1; AssignmentStatementAst = 1
    MemberExpressionAst = 1; InvokeMemberExpressionAst = 1; IndexExpressionAst = 1; PipelineAst = 1
    TypeDefinitionAst = 1; CommandAst = 1; VariableExpressionAst = 1; ScriptBlockAst = 1
}
$isInteresting = [Func[System.Management.Automation.Language.Ast, bool]] { param($node) $interesting.ContainsKey($node.GetType().Name) }
$internalCommands = '^(?:Get-PSCallStack|Read-ExchCertSecret|Read-ExchCertPfx|Invoke-ExchCertStep|Invoke-ExchCertHost|Get-Variable|gv|Set-Variable|sv|Remove-Variable|rv|Clear-Variable|clv|Get-Item|gi|Get-ChildItem|gci|dir|ls|Get-Content|gc)$'
$variables = '^(?:(?:global|script|local|private|variable):)*(?:IsWindows|IsLinux|IsMacOS|IsCoreCLR|ExchCert)$'

function Read-Script([string]$Text) {
    $tokens = $null
    $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseInput($Text, [ref]$tokens, [ref]$errors)
    # A Configuration needs the DSC schema store to parse; its body is commands and hashtable-like blocks,
    # so it is judged as a function of the same length.
    $configurations = @($tokens | Where-Object { $_.Kind -eq 'Configuration' })
    if ($configurations.Count -gt 0) {
        $chars = $Text.ToCharArray()
        foreach ($token in $configurations) {
            $replacement = 'function'.PadRight($token.Extent.EndOffset - $token.Extent.StartOffset)
            for ($i = 0; $i -lt $replacement.Length; $i++) { $chars[$token.Extent.StartOffset + $i] = $replacement[$i] }
        }
        $tokens = $null
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput((New-Object string -ArgumentList (, $chars)), [ref]$tokens, [ref]$errors)
    }
    $found = New-Object System.Collections.Generic.List[object]
    $seen = @{}
    # In a workflow, 'foreach -parallel' is valid Windows PowerShell 5.1.
    $inWorkflow = @($errors | Where-Object { $_.ErrorId -eq 'WorkflowNotSupportedInPowerShellCore' }).Count -gt 0
    foreach ($e in $errors) {
        if ($notSyntax -contains $e.ErrorId) { continue }
        if ($inWorkflow -and $e.ErrorId -eq 'KeywordParameterReservedForFutureUse') { continue }
        $found.Add(@{ o = $e.Extent.StartOffset; m = $e.Message; id = $e.ErrorId })
    }
    $constructs = New-Object System.Collections.Generic.List[object]
    $add = { param($Offset, $Kind, $Name, $Text) $constructs.Add(@{ o = $Offset; k = $Kind; n = $Name; t = $Text }) }
    foreach ($node in $ast.FindAll($isInteresting, $true)) {
        switch ($node.GetType().Name) {
            'PipelineChainAst' { & $add $node.LhsPipelineChain.Extent.EndOffset 'chain' ([string]$node.Operator) $null }
            'TernaryExpressionAst' { & $add $node.Condition.Extent.EndOffset 'ternary' $null $null }
            'BinaryExpressionAst' { if ([string]$node.Operator -eq 'QuestionQuestion') { & $add $node.Left.Extent.EndOffset 'coalesce' $null $null } }
            'AssignmentStatementAst' { if ([string]$node.Operator -eq 'QuestionQuestionEquals') { & $add $node.Left.Extent.EndOffset 'coalesce-assign' $null $null } }
            'IndexExpressionAst' { if ($node.NullConditional) { & $add $node.Target.Extent.EndOffset 'null-index' $null $null } }
            'PipelineAst' { if ($node.Background) { & $add $node.Extent.EndOffset 'background' $null $null } }
            'ScriptBlockAst' { if ($node.CleanBlock) { & $add $node.CleanBlock.Extent.StartOffset 'clean' $null $null } }
            'TypeDefinitionAst' { if ($node.IsEnum -and $node.BaseTypes.Count -gt 0) { & $add $node.BaseTypes[0].Extent.StartOffset 'enum-type' $null $null } }
            'VariableExpressionAst' { if ($node.VariablePath.UserPath -match $variables) { & $add $node.Extent.StartOffset 'variable' $node.VariablePath.UserPath $null } }
            'CommandAst' {
                $name = $node.GetCommandName()
                if ($name -and $name -match $internalCommands) { & $add $node.Extent.StartOffset 'command' $name $node.Extent.Text }
                foreach ($element in $node.CommandElements) {
                    if ($element -is [System.Management.Automation.Language.CommandParameterAst] -and $element.ParameterName -match '^(?:pa|as)') {
                        & $add $element.Extent.StartOffset 'parameter' $name ('-' + $element.ParameterName)
                    }
                }
            }
            default {
                # MemberExpressionAst and InvokeMemberExpressionAst
                if ($node.NullConditional) { & $add $node.Expression.Extent.EndOffset 'null-member' $null $null }
                if ($node.GenericTypeArguments -and $node.GenericTypeArguments.Count -gt 0) { & $add $node.Member.Extent.EndOffset 'generic' $null $null }
            }
        }
    }
    # A line that starts with '|' (PowerShell 7): a pipe whose previous token, comments aside, ends a line.
    $previous = $null
    foreach ($token in $tokens) {
        if ($token.Kind -eq 'Comment') { continue }
        if ($token.Kind -eq 'Pipe' -and $previous -and $previous.Kind -eq 'NewLine') { & $add $token.Extent.StartOffset 'leading-pipe' $null $null }
        $previous = $token
    }
    @{ errors = $found.ToArray(); constructs = $constructs.ToArray() }
}

Send-Line @{ ready = $true; version = $PSVersionTable.PSVersion.ToString(); edition = [string]$PSVersionTable.PSEdition }
while ($true) {
    $line = [Console]::In.ReadLine()
    if ($null -eq $line) { break }
    try {
        $bytes = [Convert]::FromBase64String($line)
        $chars = New-Object char[] ($bytes.Length / 2)
        [Buffer]::BlockCopy($bytes, 0, $chars, 0, $bytes.Length)
        Send-Line (Read-Script (New-Object string -ArgumentList (, $chars)))
    } catch {
        Send-Line @{ fatal = [string]$_ }
    }
}
`;
